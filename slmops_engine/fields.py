"""A setting is declared once, on its pydantic field: title (the label), description (the help), default, bounds
(ge/gt/le/lt), Literal choices, maximum length and a `step` in json_schema_extra. This module reads that
declaration and builds command-line options from it; slmops_ui/fields.py builds the widgets from the same reading."""

from __future__ import annotations

import argparse
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError


@dataclass(frozen=True)
class FieldSpec:
    """What a widget or an option needs to know about one field."""

    name: str
    title: str
    help: str
    default: Any
    kind: type  # int, float, bool or str: what the value is, with `| None` and Literal unwrapped
    optional: bool
    choices: tuple | None
    low: float | None
    low_open: bool  # gt rather than ge: the bound itself is refused
    high: float | None
    high_open: bool
    max_length: int | None
    step: float | None

    @property
    def flag(self) -> str:
        return flag(self.name)

    def bounds_text(self) -> str:
        """'(> 0, <= 1)': the range in plain ASCII, for command-line help."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number(self.high)}")
        return f"({', '.join(parts)})" if parts else ""


def flag(name: str) -> str:
    """learning_rate -> --learning-rate."""
    return "--" + name.replace("_", "-")


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); anything else -> (it, False)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def field_spec(model: type[BaseModel], name: str) -> FieldSpec:
    """The declaration of `model.name`, read from pydantic's FieldInfo (its metadata holds the bounds)."""
    info = model.model_fields[name]
    annotation, optional = _unwrap(info.annotation)
    choices = None
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        annotation = type(choices[0])
    bound = {k: getattr(m, k) for m in info.metadata for k in ("ge", "gt", "le", "lt", "max_length") if hasattr(m, k)}
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return FieldSpec(
        name=name,
        title=info.title or name.replace("_", " ").capitalize(),
        help=info.description or "",
        default=None if info.is_required() else info.get_default(call_default_factory=True),
        # Anything richer (a nested model, a dict) is entered as text; the field's own validation judges it.
        kind=annotation if annotation in (int, float, bool, str) else str,
        optional=optional,
        choices=choices,
        low=bound.get("gt", bound.get("ge")),
        low_open="gt" in bound,
        high=bound.get("lt", bound.get("le")),
        high_open="lt" in bound,
        max_length=bound.get("max_length"),
        step=extra.get("step"),
    )


def titles(model: type[BaseModel]) -> dict[str, str]:
    """Every field's on-screen label, for messages that name a field."""
    return {name: field_spec(model, name).title for name in model.model_fields}


def parse_value(model: type[BaseModel], name: str) -> Callable[[str], Any]:
    """An argparse `type` that checks a value as the field does (type, bounds, pattern, choices), so a wrong value
    is refused before anything runs, in pydantic's own words."""
    info = model.model_fields[name]
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    adapter = TypeAdapter(annotation)

    def parse(text: str) -> Any:
        try:
            return adapter.validate_python(text)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(exc.errors()[0]["msg"]) from None

    return parse


def add_options(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    names: Iterable[str],
    *,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """One `--name-with-dashes` option per field, its help the field's description and range. The default is None:
    an option not given leaves the setting to the config (or the preset) rather than writing its default again."""
    aliases = aliases or {}
    for name in names:
        spec = field_spec(model, name)
        flags = [spec.flag, *aliases.get(name, ())]
        text = " ".join(filter(None, (spec.help, spec.bounds_text()))).replace("%", "%%")
        if spec.kind is bool:
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        metavar = None if spec.choices else ("N" if spec.kind is int else "X" if spec.kind is float else "TEXT")
        parser.add_argument(
            *flags,
            dest=name,
            type=parse_value(model, name),
            choices=list(spec.choices) if spec.choices else None,
            default=None,
            metavar=metavar,
            help=text,
        )


def given_options(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The settings the command line set (options left out are absent, not None)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def option_args(values: Mapping[str, Any], names: Iterable[str], baseline: Mapping[str, Any]) -> list[str]:
    """`--name value` for each setting that differs from `baseline` (what the command would use without it)."""
    out: list[str] = []
    for name in names:
        value = values.get(name)
        if value is None or value == baseline.get(name):
            continue
        if isinstance(value, bool):
            out.append(flag(name) if value else flag(f"no_{name}"))
        else:
            out += [flag(name), str(value)]
    return out
