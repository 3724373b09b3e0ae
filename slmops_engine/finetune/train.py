"""The fine-tuning run: load, wrap with PEFT, train with the HF Trainer (checkpoints, resume, early stopping),
then save the adapter and a merged model and record the variant."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from ..errors import ConfigError, JobCancelled, JobStopped
from ..settings import get_settings
from ..stage_api import Reporter
from .config import FinetuneConfig
from .hardware import cuda_available, use_bf16


def _load_model(cfg: FinetuneConfig, path: Path, bf16: bool):
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.method == "qlora":
        if not cuda_available():
            raise ConfigError(
                "QLoRA needs a CUDA GPU",
                "Choose LoRA on this machine; QLoRA's 4-bit base only trains properly on an NVIDIA GPU.",
            )
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        q = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        model = AutoModelForCausalLM.from_pretrained(str(path), quantization_config=q, device_map={"": 0})
        return prepare_model_for_kbit_training(model)
    dtype = torch.bfloat16 if (bf16 and cuda_available()) else torch.float32  # CPU: fp32 weights, bf16 autocast
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)


def _wrap(cfg: FinetuneConfig, model):
    if not cfg.uses_adapter:
        return model
    from peft import LoraConfig, get_peft_model

    targets = (
        cfg.target_modules
        if cfg.target_modules == "all-linear"
        else [t.strip() for t in cfg.target_modules.split(",") if t.strip()]
    )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        use_dora=cfg.method == "dora",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora, adapter_name=cfg.adapter_name)


def _splits(cfg: FinetuneConfig, tok):
    """Tokenized train and validation parts, the raw validation rows and the task's labels (if it has any)."""
    from ..data.store import load_dataset_dict
    from ..teaching import task_labels
    from .data import tokenize_split

    dd = load_dataset_dict(cfg.dataset_id)
    if "train" not in dd:
        raise ConfigError("The dataset has no training part", "Split it on the Data page.")
    train_rows, val_rows = dd["train"], dd.get("validation")
    if val_rows is None:  # hold out a few training rows so the run still has a validation loss
        parts = train_rows.train_test_split(test_size=max(1, len(train_rows) // 10), seed=cfg.seed)
        train_rows, val_rows = parts["train"], parts["test"]
    train = tokenize_split(train_rows, tok, cfg.max_length)
    val = tokenize_split(val_rows, tok, cfg.max_length)
    return train, val, val_rows, task_labels([dict(r) for r in train_rows])


def validation_accuracy(model, tok, rows, labels: list[str]) -> float | None:
    """A labelled task (``labels``, from the training part): the share of validation rows whose generated answer
    names the right label (greedy, as the evaluation asks); None for free-text tasks."""
    from ..evaluate.runtimes import TransformersRunner
    from ..teaching import predicted_label
    from .data import messages_of

    rows = [dict(r) for r in rows]
    if not labels or not rows:
        return None
    runner = TransformersRunner.from_loaded(model, tok)
    longest = max(len(tok(lab, add_special_tokens=False)["input_ids"]) for lab in labels)
    was_training = model.training
    model.eval()
    right = 0
    for i in range(0, len(rows), 8):
        group = rows[i : i + 8]
        messages = [messages_of(r)[:-1] for r in group]  # as the student sees it in training, less the answer
        for r, a in zip(group, runner.answer(messages, longest + 4), strict=True):
            right += predicted_label(a.text, labels) == r["label"]
    model.train(was_training)
    return round(right / len(rows), 4)


def last_complete_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint that was fully written. The Trainer writes trainer_state.json last, so a folder
    without it was cut short (the worker was killed mid-save): it is removed so that resuming never trips on it."""
    import shutil

    found = []
    for d in ckpt_dir.glob("checkpoint-*"):
        if (d / "trainer_state.json").exists() and d.name.split("-")[-1].isdigit():
            found.append((int(d.name.split("-")[-1]), d))
        else:
            shutil.rmtree(d, ignore_errors=True)
    return max(found)[1] if found else None


def version_specific_args(cfg: FinetuneConfig) -> dict:
    """Arguments whose names changed across transformers 5.x releases (the range pyproject allows)."""
    import dataclasses

    from transformers import TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    out: dict = {}
    if "train_sampling_strategy" in fields:
        out["train_sampling_strategy"] = "group_by_length"
    else:
        out["group_by_length"] = True
    if "warmup_ratio" in fields:
        out["warmup_ratio"] = cfg.warmup_ratio
    else:
        out["warmup_steps"] = cfg.warmup_ratio  # newer releases read a float below 1 as a share of the steps
    return out


def command_line(cfg: FinetuneConfig) -> str:
    """The `slmops finetune` call that reproduces this run."""
    from ..fields import option_args
    from .config import DEFAULT_PRESET, SETTINGS, apply_preset

    args = ["slmops", "finetune", "--dataset", str(cfg.dataset_id), "--method", cfg.method]
    if cfg.project_id is not None:
        args += ["--project", str(cfg.project_id)]
    if cfg.student.source == "local":
        args += ["--student-path", cfg.student.path or ""]
    elif cfg.student.source == "catalog":
        args += ["--student-id", cfg.student.model_id or ""]
    # What the command uses for a setting left out: the default preset's value (for this method), else the field's.
    unset = {n: FinetuneConfig.model_fields[n].default for n in SETTINGS} | apply_preset(
        DEFAULT_PRESET, method=cfg.method
    )
    # Without a teacher the distillation settings do nothing: leave them out.
    settings = [n for n in SETTINGS if n != "method" and (cfg.kd or not n.startswith("kd_"))]
    return shlex.join(args + option_args(cfg.model_dump(), settings, unset))


def train(cfg: FinetuneConfig, reporter: Reporter, job_id: int | None = None) -> dict:
    import torch
    from transformers import AutoTokenizer, DataCollatorForSeq2Seq, EarlyStoppingCallback, Trainer, TrainingArguments

    from ..data.store import get_dataset
    from ..students import resolve_student
    from ..variants import base_variant
    from .callbacks import PruningCallback, ReporterCallback

    t0 = time.perf_counter()
    path = resolve_student(cfg.student)
    base = base_variant(cfg.student, path, cfg.project_id)
    reporter.progress(0.01, "Loading the student")
    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    train_ds, val_ds, val_rows, labels = _splits(cfg, tok)
    bf16 = use_bf16(cfg.precision)
    torch.manual_seed(cfg.seed)
    model = _wrap(cfg, _load_model(cfg, path, bf16))
    run_dir = reporter.run_dir or Path(get_settings().runs_dir / f"direct-{int(time.time())}")
    ckpt_dir = run_dir / "checkpoints"
    resume = last_complete_checkpoint(ckpt_dir)
    patience = cfg.early_stopping_patience
    args = TrainingArguments(
        **version_specific_args(cfg),
        output_dir=str(ckpt_dir),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.scheduler,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.eval_steps if patience else cfg.save_steps,
        save_total_limit=2,
        load_best_model_at_end=bool(patience),
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        include_num_input_tokens_seen="non_padding",
        bf16=bf16,
        use_cpu=not cuda_available(),
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    state_file = run_dir / "finetune_state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    accuracy_start = state.get("eval_accuracy_start")
    if "eval_loss_start" not in state:  # measured before the Trainer seeds its random numbers: a resumed run and
        reporter.progress(0.02, "Measuring the validation accuracy before training")  # an unbroken one match
        accuracy_start = validation_accuracy(model, tok, val_rows, labels)
    callback = ReporterCallback(reporter)
    callbacks = [callback] + ([EarlyStoppingCallback(early_stopping_patience=patience)] if patience else [])
    pruning = PruningCallback(cfg.search_trial) if cfg.search_trial else None
    callbacks += [pruning] if pruning else []
    kw = dict(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tok,
        data_collator=DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100),
        callbacks=callbacks,
    )
    if cfg.kd:
        from transformers import AutoModelForCausalLM

        from .kd import KDTrainer

        teacher = AutoModelForCausalLM.from_pretrained(cfg.kd_teacher_path, dtype=model.dtype)
        trainer = KDTrainer(teacher=teacher, temperature=cfg.kd_temperature, alpha=cfg.kd_alpha, **kw)
    else:
        trainer = Trainer(**kw)

    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our callback records the logs; no dicts printed to the job log
    if "eval_loss_start" not in state:
        reporter.progress(0.03, "Measuring the validation loss before training")
        state["eval_loss_start"] = trainer.evaluate()["eval_loss"]
        reporter.metric("eval_loss", state["eval_loss_start"], 0)
        state["eval_accuracy_start"] = accuracy_start
        state_file.write_text(json.dumps(state))
    reporter.progress(0.05, "Resuming from the last checkpoint" if resume else "Training")
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if callback.cancelled:
        raise JobCancelled()
    if pruning and pruning.pruned_at:
        step, loss = pruning.pruned_at
        raise JobStopped(
            f"Stopped by the search at step {step}: validation loss {loss:.4g} was clearly worse than earlier trials'",
            {"pruned": True, "pruned_at_step": step, "eval_loss_last": round(loss, 5)},
        )
    reporter.progress(0.92, "Measuring the validation loss after training")
    eval_end = trainer.evaluate()["eval_loss"]
    reporter.metric("eval_loss", eval_end, trainer.state.global_step)
    accuracy_end = validation_accuracy(model, tok, val_rows, labels)

    from .save import save_outputs

    reporter.progress(0.95, "Saving the adapter and the merged model")
    dataset = get_dataset(cfg.dataset_id)
    variant, out = save_outputs(
        cfg,
        model,
        tok,
        path,
        base,
        dataset,
        job_id,
        metrics={
            "train_loss": round(float(result.training_loss), 5),
            "eval_loss_start": round(state["eval_loss_start"], 5),
            "eval_loss_end": round(eval_end, 5),
            "eval_rows": len(val_rows),
            "eval_accuracy_start": state.get("eval_accuracy_start"),
            "eval_accuracy_end": accuracy_end,
            "steps": trainer.state.global_step,
            "real_tokens": int(trainer.state.num_input_tokens_seen),
            # Real (non-padding) tokens over the training loop's own time: loading, evaluation and saving excluded.
            "train_seconds": round(float(result.metrics["train_runtime"]), 3),
            "tokens_per_s": round(trainer.state.num_input_tokens_seen / max(result.metrics["train_runtime"], 1e-9), 1),
            "seconds": round(time.perf_counter() - t0, 1),
            "peak_rss_gb": round(callback.peak_rss / 1024**3, 2),
            "longest_tokens": max(len(x) for x in train_ds["input_ids"]),
            "bf16": bf16,
            "resumed": resume is not None,
        },
        command=command_line(cfg),
    )
    return {"variant_id": variant.id, "base_variant_id": variant.parent_id, "path": str(out), **variant.metrics}
