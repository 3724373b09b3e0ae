"""How the pages speak to the operator: errors as label + hint (details in an expander) and one-shot notices."""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from typing import Literal

import streamlit as st
from pydantic import ValidationError

from slmops_engine.errors import SlmopsError, describe_exception

_FLASH = "_flash_messages"
Level = Literal["success", "info", "warning"]


def _md(text: str) -> str:
    # A '$' would start LaTeX in Streamlit markdown; prices and shell variables are common in messages.
    return text.replace("$", "\\$")


def show_error(exc: BaseException) -> None:
    """Render an error for the operator: short label, what to do, and the traceback in an expander when it helps."""
    label, hint = describe_exception(exc)
    st.error(f"**{_md(label)}**" + (f"  \n{_md(hint)}" if hint else ""), icon=":material/error:")
    if not isinstance(exc, SlmopsError) or exc.__cause__ is not None:
        with st.expander("Technical details"):
            st.code("".join(traceback.format_exception(exc)), language=None)


def show_failure(label: str | None, hint: str | None, detail: str | None = None) -> None:
    """A failure recorded in the database (a job's error label, hint and traceback)."""
    text = f"**{_md(label or 'Failed')}**" + (f"  \n{_md(hint)}" if hint else "")
    st.error(text, icon=":material/error:")
    if detail:
        with st.expander("Technical details (traceback)"):
            st.code(detail, language=None)


def validation_messages(exc: ValidationError, labels: Mapping[str, str] | None = None) -> list[str]:
    """Pydantic errors as sentences an operator can act on, naming fields by their on-screen labels."""
    labels = labels or {}
    out = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err.get("loc") else ""
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":
            msg = "use only letters, digits and underscores"
        for name, label in labels.items():  # model-level messages name fields by their Python names
            if "_" in name:
                msg = re.sub(rf"\b{name}\b", f"'{label}'", msg)
        out.append(f"{labels.get(field, field)}: {msg}" if field else msg[:1].upper() + msg[1:])
    return out


def show_validation_error(exc: ValidationError, labels: Mapping[str, str] | None = None) -> None:
    """A settings form's validation errors as one list, never a traceback."""
    lines = "\n".join(f"- {_md(m)}" for m in validation_messages(exc, labels))
    st.error(f"**Please fix these settings**\n\n{lines}", icon=":material/edit:")


def flash(message: str, level: Level = "success") -> None:
    """Show a notice on the next run (after st.rerun)."""
    st.session_state.setdefault(_FLASH, []).append((level, message))


def show_flash() -> None:
    """Show (once) the notices queued with flash()."""
    for level, message in st.session_state.pop(_FLASH, []):
        getattr(st, level)(_md(message))


def widget_key(base: str, scope: str) -> str:
    """A widget key that changes each time ``renew_widgets(scope)`` is called.

    Deleting a widget's Session State is not enough to reset it: the browser sends the old value back on the
    next run. A new key makes a new widget, which starts from the value the page passes (the database's)."""
    generation = st.session_state.get(f"_widgets_{scope}", 0)
    return base if generation == 0 else f"{base}~{generation}"


def renew_widgets(scope: str) -> None:
    """After something other than these widgets changed what they show, make them start again."""
    st.session_state[f"_widgets_{scope}"] = st.session_state.get(f"_widgets_{scope}", 0) + 1


def models_scope(project_id: int) -> str:
    """The scope of a project's teacher and student widgets."""
    return f"models_{project_id}"
