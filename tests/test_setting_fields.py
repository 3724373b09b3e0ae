"""Each fine-tuning setting is declared once, on its FinetuneConfig field: the `slmops finetune` options, the page's
widgets (tests/test_page_finetune.py) and the command that reproduces a run are all built from it."""

from __future__ import annotations

import re
import shlex
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from slmops_engine.cli import build_parser
from slmops_engine.cli.finetune_commands import settings_from_args
from slmops_engine.fields import add_options, field_spec, given_options, option_args
from slmops_engine.finetune.config import METHOD_LABELS, SETTINGS, FinetuneConfig
from slmops_engine.finetune.train import command_line
from slmops_engine.students import StudentChoice
from slmops_ui.fields import float_format, limits

STUDENT = StudentChoice(source="local", path="/models/student")


def _help_text(capsys, monkeypatch, command: str) -> str:
    """`slmops COMMAND --help` on one line (argparse wraps its help to the terminal, hyphenated words too)."""
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([command, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def _refused(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(list(argv))
    assert stop.value.code == 2
    return capsys.readouterr().err


def test_every_field_has_a_title_and_a_description():
    for name, info in FinetuneConfig.model_fields.items():
        assert info.title, f"{name} has no title (the page's label)"
        assert info.description, f"{name} has no description (the help)"
    assert set(METHOD_LABELS) == set(field_spec(FinetuneConfig, "method").choices)


def test_finetune_help_lists_every_setting_with_its_help_and_range(capsys, monkeypatch):
    shown = _help_text(capsys, monkeypatch, "finetune")
    for name in SETTINGS:
        spec = field_spec(FinetuneConfig, name)
        assert spec.flag in shown, f"{spec.flag} is not an option"
        assert " ".join(spec.help.split()) in shown, f"{spec.flag} lacks its help"
    assert "Step size; LoRA likes ~2e-4, full fine-tuning ~2e-5. (> 0, <= 1)" in shown
    assert "{cosine,linear,constant,constant_with_warmup}" in shown
    # What the command sets from its own inputs, or a search, is no option of its own.
    assert "--search-trial" not in shown and "--student " not in shown and "--kd " not in shown


def test_sweep_shares_the_fine_tuning_options_it_sets(capsys, monkeypatch):
    shown = _help_text(capsys, monkeypatch, "sweep")
    for name in ("method", "max_steps"):
        assert field_spec(FinetuneConfig, name).help in shown
    args = build_parser().parse_args(["sweep", "--dataset", "1", "--max-steps", "4"])
    assert given_options(args, ("method", "max_steps")) == {"max_steps": 4}  # the method left to the config


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--learning-rate", "0", "greater than 0"),
        ("--lora-dropout", "1", "less than 1"),
        ("--batch-size", "2.5", "valid integer"),
        ("--seed", "-1", "greater than or equal to 0"),
        ("--adapter-name", "my adapter", "should match pattern"),
        ("--precision", "fp16", "'auto', 'fp32' or 'bf16'"),
    ],
)
def test_a_value_outside_the_field_is_refused_by_name(capsys, option, value, says):
    err = _refused(capsys, "finetune", "--dataset", "1", option, value)
    assert f"argument {option}" in err and says in err


def test_the_config_refuses_the_same_values_by_field_name():
    with pytest.raises(ValidationError) as exc:
        FinetuneConfig(dataset_id=1, student=STUDENT, learning_rate=0, seed=-1)
    assert {e["loc"][0] for e in exc.value.errors()} == {"learning_rate", "seed"}


def test_options_left_out_keep_the_preset_and_given_ones_win():
    args = build_parser().parse_args(["finetune", "--dataset", "1", "--preset", "quick", "--batch-size", "4"])
    values = settings_from_args(args)
    assert values["learning_rate"] == 1e-3 and values["epochs"] == 3.0  # the Quick preset
    assert values["batch_size"] == 4 and "method" not in values  # the config's own default applies
    old = build_parser().parse_args(["finetune", "--dataset", "1", "--kd-teacher", "/models/teacher"])
    assert settings_from_args(old)["kd"] is True  # the older spelling still turns distillation on


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"method": "full", "learning_rate": 2e-4},  # the field's default, not the full preset's 2e-5: it must show
        {"method": "full", "learning_rate": 2e-5},
        {"max_steps": 6, "target_modules": "q_proj,v_proj", "logging_steps": 5, "scheduler": "linear", "seed": 7},
        {"kd": True, "kd_teacher_path": "/models/teacher", "kd_alpha": 0.25, "output_name": "tuned router"},
        {"adapter_name": "billing", "precision": "fp32", "lora_dropout": 0.1, "warmup_ratio": 0.0},
    ],
)
def test_the_recorded_command_reproduces_the_run(settings):
    cfg = FinetuneConfig(dataset_id=3, student=STUDENT, **settings)
    argv = shlex.split(command_line(cfg))
    assert argv[:4] == ["slmops", "finetune", "--dataset", "3"]
    args = build_parser().parse_args(argv[1:])
    again = FinetuneConfig(dataset_id=args.dataset, student=STUDENT, **settings_from_args(args))
    assert again == cfg


def test_widget_limits_and_formats_come_from_the_bounds():
    def spec(name):
        return field_spec(FinetuneConfig, name)

    assert limits(spec("learning_rate")) == (1e-7, 1.0) and float_format(spec("learning_rate")) == "%.1e"
    assert limits(spec("epochs")) == (0.1, 100.0) and float_format(spec("epochs")) == "%.1f"
    assert limits(spec("lora_dropout")) == (0.0, 0.99) and float_format(spec("lora_dropout")) == "%.2f"
    assert limits(spec("max_length")) == (16, 131_072) and spec("max_length").step == 64
    assert limits(spec("seed")) == (0, 2**31 - 1)


class _Toy(BaseModel):
    """A config with one field of each kind: a new setting is one line, and its option follows."""

    rate: float = Field(0.1, gt=0, lt=1, title="Rate", description="How fast.")
    rounds: int = Field(3, ge=1, title="Rounds", description="How many.")
    mode: Literal["a", "b"] = Field("a", title="Mode", description="Which way.")
    loud: bool = Field(False, title="Loud", description="Say it all.")
    label: str | None = Field(None, max_length=5, title="Label", description="A short name.")


def test_any_model_field_becomes_an_option():
    import argparse

    p = argparse.ArgumentParser()
    add_options(p, _Toy, _Toy.model_fields)
    args = p.parse_args(["--rate", "0.5", "--mode", "b", "--loud", "--label", "abc"])
    assert given_options(args, _Toy.model_fields) == {"rate": 0.5, "mode": "b", "loud": True, "label": "abc"}
    assert re.search(r"--rounds N\s+How many\. \(>= 1\)", p.format_help())
    assert option_args({"rate": 0.5, "loud": False}, ["rate", "loud"], {"rate": 0.1, "loud": True}) == [
        "--rate",
        "0.5",
        "--no-loud",
    ]
    with pytest.raises(SystemExit):
        p.parse_args(["--label", "too long"])
