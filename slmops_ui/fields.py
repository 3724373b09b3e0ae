"""A settings widget built from its pydantic field (slmops_engine.fields reads the declaration): the field's title is
the label, its description the help, its bounds the widget's limits, its Literal values the options."""

from __future__ import annotations

import math
from typing import Any, Literal

import streamlit as st
from pydantic import BaseModel

from slmops_engine.fields import FieldSpec, field_spec

Widget = Literal["slider", "toggle", "radio"]


def float_format(spec: FieldSpec) -> str:
    """Small rates in scientific notation ('2.0e-04'), the rest with as many decimals as a step has."""
    step = spec.step or 0.01
    if 0 < abs(spec.default or step) < 1e-3:
        return "%.1e"
    return f"%.{max(0, -math.floor(math.log10(step)))}f"


def _resolution(spec: FieldSpec) -> float:
    """The smallest change the widget shows: what an exclusive bound (gt, lt) is moved by to become a limit."""
    if spec.kind is int:
        return 1
    fmt = float_format(spec)
    if fmt.endswith("f"):
        return 10.0 ** -int(fmt[2:-1])
    # A rate: two orders of magnitude below a step (1e-7 for the learning rate's 1e-5).
    return 10.0 ** (math.floor(math.log10(spec.step or 0.01)) - 2)


def limits(spec: FieldSpec) -> tuple[Any, Any]:
    """The widget's min and max: the field's bounds, an exclusive one moved in by what the widget can show."""
    cast = int if spec.kind is int else float
    lo = hi = None
    if spec.low is not None:
        lo = cast(spec.low + (_resolution(spec) if spec.low_open else 0))
    if spec.high is not None:
        hi = cast(spec.high - (_resolution(spec) if spec.high_open else 0))
    return lo, hi


def field_widget(
    model: type[BaseModel],
    name: str,
    *,
    key: str,
    container: Any = None,
    widget: Widget | None = None,
    more_help: str = "",
    **kwargs: Any,
) -> Any:
    """The widget for `model.name` in `container` (st by default), its value returned. Keyword arguments go to the
    Streamlit call (disabled, on_change, format_func, placeholder …) and win over what the field says."""
    spec = field_spec(model, name)
    at = container or st
    common: dict[str, Any] = {"key": key, "help": " ".join(filter(None, (spec.help, more_help)))}
    # A value held in Session State (a preset wrote it, or the operator) is the widget's value; passing a default
    # as well makes Streamlit warn.
    if key not in st.session_state and spec.default is not None:
        common["value"] = spec.default
    common |= kwargs
    if spec.choices:
        options = list(spec.choices)
        if "value" in common:
            common["index"] = options.index(common.pop("value"))
        return (at.radio if widget == "radio" else at.selectbox)(spec.title, options, **common)
    if spec.kind is bool:
        return (at.toggle if widget == "toggle" else at.checkbox)(spec.title, **common)
    if spec.kind in (int, float):
        lo, hi = limits(spec)
        step = spec.step or (1 if spec.kind is int else 0.01)
        if "value" in common:  # Streamlit wants one number type: a float field declared with default 0 says 0.0
            common["value"] = spec.kind(common["value"])
        if spec.kind is int:
            step = int(step)
        else:
            common.setdefault("format", float_format(spec))
            step = float(step)
        if widget == "slider":
            common.pop("format", None)  # the slider's own display of a 0-1 weight reads well
            return at.slider(spec.title, min_value=lo, max_value=hi, step=step, **common)
        return at.number_input(spec.title, min_value=lo, max_value=hi, step=step, **common)
    return at.text_input(spec.title, max_chars=spec.max_length, **common)
