"""Recognise what a dataset holds and turn every row into the canonical form:
``prompt`` (what the user says), ``response`` (the answer, empty when the teacher will write it), ``system``,
``label`` (for classification) and ``split`` (when the file already says where a row belongs)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Shape = Literal["prompts", "prompt_response", "instruction", "messages"]
SHAPE_LABELS = {
    "prompts": "Prompts only (the teacher will answer them)",
    "prompt_response": "Prompt and response pairs",
    "instruction": "Instruction / input / output",
    "messages": "Chat messages (OpenAI style)",
}

PROMPT_NAMES = ("prompt", "question", "query", "input_text", "text", "user", "instruction_text", "message")
RESPONSE_NAMES = ("response", "completion", "answer", "output_text", "target", "assistant", "reply", "chosen")
LABEL_NAMES = ("label", "category", "class", "intent", "topic")
SYSTEM_NAMES = ("system", "system_prompt")
SPLIT_VALUES = {"train", "validation", "test"}


class ColumnMapping(BaseModel):
    """Which source column plays which part. Unset parts are absent from the file."""

    model_config = ConfigDict(extra="forbid")
    shape: Shape = Field(description="What the rows hold.")
    prompt: str | None = Field(None, description="Column with the user's message.")
    response: str | None = Field(None, description="Column with the answer.")
    instruction: str | None = Field(None, description="Instruction column (instruction shape).")
    input: str | None = Field(None, description="Optional extra input column (instruction shape).")
    output: str | None = Field(None, description="Output column (instruction shape).")
    messages: str | None = Field(None, description="Column with the list of chat messages.")
    label: str | None = Field(None, description="Column with the class label, for classification tasks.")
    system: str | None = Field(None, description="Column with a per-row system prompt.")
    split: str | None = Field(None, description="Column that says train / validation / test.")

    def required_columns(self) -> list[str]:
        need = {
            "prompts": [self.prompt],
            "prompt_response": [self.prompt, self.response],
            "instruction": [self.instruction, self.output],
            "messages": [self.messages],
        }[self.shape]
        return [c for c in need if c]


class ShapeGuess(BaseModel):
    mapping: ColumnMapping | None
    ambiguous: bool
    reason: str
    columns: list[str]


def _pick(columns: list[str], names: tuple[str, ...]) -> list[str]:
    lower = {c.lower().strip(): c for c in columns}
    return [lower[n] for n in names if n in lower]


def guess_shape(columns: list[str], sample: list[dict[str, Any]] | None = None) -> ShapeGuess:
    """Guess the shape from column names (and a sample of rows for the split column)."""
    cols = list(columns)
    label = next(iter(_pick(cols, LABEL_NAMES)), None)
    system = next(iter(_pick(cols, SYSTEM_NAMES)), None)
    split = None
    if "split" in cols and sample:
        values = {str(r.get("split", "")).strip().lower() for r in sample if r.get("split") not in (None, "")}
        split = "split" if values and values <= SPLIT_VALUES else None
    common = {"label": label, "system": system, "split": split}

    if "messages" in cols or "conversations" in cols:
        m = ColumnMapping(shape="messages", messages="messages" if "messages" in cols else "conversations", **common)
        return ShapeGuess(mapping=m, ambiguous=False, reason="a messages column", columns=cols)
    lower = {c.lower(): c for c in cols}
    if "instruction" in lower and ("output" in lower or "response" in lower):
        m = ColumnMapping(
            shape="instruction",
            instruction=lower["instruction"],
            input=lower.get("input"),
            output=lower.get("output") or lower.get("response"),
            **common,
        )
        return ShapeGuess(mapping=m, ambiguous=False, reason="instruction/input/output columns", columns=cols)
    prompts = [c for c in _pick(cols, PROMPT_NAMES + ("input", "instruction")) if c not in (label, system)]
    responses = [c for c in _pick(cols, RESPONSE_NAMES + ("output",)) if c not in (label, system)]
    if not prompts:
        text_cols = [c for c in cols if c not in (label, system, split)]
        if len(text_cols) == 1:
            m = ColumnMapping(shape="prompts", prompt=text_cols[0], **common)
            return ShapeGuess(mapping=m, ambiguous=True, reason=f"only one column, '{text_cols[0]}'", columns=cols)
        return ShapeGuess(mapping=None, ambiguous=True, reason="no column looks like a prompt", columns=cols)
    ambiguous = len(prompts) > 1 or len(responses) > 1
    if responses:
        m = ColumnMapping(shape="prompt_response", prompt=prompts[0], response=responses[0], **common)
        reason = f"'{prompts[0]}' and '{responses[0]}' columns"
    elif label:
        # A label but no response: the label is the answer (classification); the teacher is not needed.
        m = ColumnMapping(shape="prompt_response", prompt=prompts[0], response=label, **common)
        reason = f"'{prompts[0]}' with a '{label}' column (the label is the answer)"
    else:
        m = ColumnMapping(shape="prompts", prompt=prompts[0], **common)
        reason = f"a '{prompts[0]}' column and no answers (the teacher will answer)"
    if ambiguous:
        reason += f"; other candidates: {', '.join(prompts[1:] + responses[1:])}"
    return ShapeGuess(mapping=m, ambiguous=ambiguous, reason=reason, columns=cols)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas/parquet
        return None
    return value if isinstance(value, str) else str(value)


def _messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list) or not value:
        raise ValueError("messages must be a non-empty list")
    out = []
    for m in value:
        if not isinstance(m, dict):
            raise ValueError("each message must be an object with role and content")
        role = m.get("role") or m.get("from")
        content = m.get("content") if "content" in m else m.get("value")
        role = {"human": "user", "gpt": "assistant"}.get(role, role)
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise ValueError(f"unexpected message {str(m)[:80]}")
        out.append({"role": role, "content": content})
    return out


def normalize(row: dict[str, Any], mapping: ColumnMapping) -> dict[str, str | None]:
    """One canonical row. Raises KeyError for a missing column and ValueError for unusable content."""
    for col in mapping.required_columns():
        if col not in row:
            raise KeyError(col)
    system = _text(row.get(mapping.system)) if mapping.system else None
    if mapping.shape == "messages":
        msgs = _messages(row[mapping.messages])
        if msgs[0]["role"] == "system":
            system = msgs.pop(0)["content"]
        response = msgs.pop()["content"] if msgs and msgs[-1]["role"] == "assistant" else None
        users = [m for m in msgs if m["role"] == "user"]
        if not users:
            raise ValueError("no user message")
        prompt = users[-1]["content"]
    elif mapping.shape == "instruction":
        instr = _text(row[mapping.instruction]) or ""
        extra = _text(row.get(mapping.input)) if mapping.input else None
        prompt = f"{instr}\n\n{extra}" if extra and extra.strip() else instr
        response = _text(row[mapping.output])
    else:
        prompt = _text(row[mapping.prompt]) or ""
        response = _text(row[mapping.response]) if mapping.response else None
    label = _text(row.get(mapping.label)) if mapping.label else None
    split = _text(row.get(mapping.split)) if mapping.split else None
    return {
        "prompt": prompt,
        "response": response,
        "system": system,
        "label": label.strip() if label else None,
        "split": split.strip().lower() if split else None,
    }
