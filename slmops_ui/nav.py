"""The app's pages in wizard order, and the frame every page runs in.

app.py builds the navigation from PAGES and runs the selected page inside ``frame()``. Each page starts with
``ensure_frame()``: with a folder named ``pages/`` next to app.py, Streamlit runs a page file on its own (its
legacy multipage mode) until some run has called ``st.navigation`` — which happens when a fresh server's first
request is a page URL (a bookmark, a reload after a restart). The guard then declares the navigation, which
switches the server out of that mode for good, and reruns so the page loads through app.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    key: str  # the lifecycle step key (projects.lifecycle) the page belongs to
    path: str  # relative to app.py
    title: str
    icon: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("home", "pages/home.py", "Home", ":material/home:"),
    PageSpec("models", "pages/models.py", "Models", ":material/neurology:"),
    PageSpec("data", "pages/data.py", "Data", ":material/dataset:"),
    PageSpec("distill", "pages/distill.py", "Distill", ":material/school:"),
    PageSpec("finetune", "pages/finetune.py", "Fine-tune", ":material/model_training:"),
    PageSpec("optimize", "pages/optimize.py", "Optimize", ":material/compress:"),
    PageSpec("evaluate", "pages/evaluate.py", "Evaluate", ":material/analytics:"),
    PageSpec("deploy", "pages/deploy.py", "Deploy", ":material/rocket_launch:"),
    PageSpec("chat", "pages/chat.py", "Chat", ":material/chat:"),
    PageSpec("jobs", "pages/jobs.py", "Jobs", ":material/pending_actions:"),
)

_in_frame: ContextVar[bool] = ContextVar("slmops_in_frame", default=False)
_RETRIED = "_frame_retried"


def page_for(key: str) -> PageSpec | None:
    """The page of a lifecycle step, or None while that step has no page yet."""
    return next((p for p in PAGES if p.key == key), None)


def build_navigation(position: Literal["sidebar", "hidden"] = "sidebar") -> st.Page:
    """Declare the app's pages; returns the page to run. The navigation has no icons: Streamlit's browser side makes
    the current page's icon the tab's icon, and fetches a material icon for that from a Google host on every page
    (the links between pages keep theirs: those are drawn with the font the app serves)."""
    pages = [st.Page(p.path, title=p.title, default=i == 0) for i, p in enumerate(PAGES)]
    return st.navigation(pages, position=position)


@contextmanager
def frame() -> Iterator[None]:
    """Marks a page run as happening inside app.py (the script run's own context, so sessions never mix)."""
    token = _in_frame.set(True)
    try:
        yield
    finally:
        _in_frame.reset(token)


def ensure_frame() -> None:
    """Called first by every page: reload it through app.py when Streamlit ran the page file on its own."""
    if _in_frame.get():
        st.session_state.pop(_RETRIED, None)
        return
    if st.session_state.get(_RETRIED):
        return  # the switch did not take: render the page bare rather than rerun forever
    st.session_state[_RETRIED] = True
    build_navigation(position="hidden")
    st.rerun()


def link_to(key: str, label: str) -> None:
    """A link to a lifecycle step's page, when that page exists."""
    page = page_for(key)
    if page:
        st.page_link(page.path, label=label, icon=page.icon)
