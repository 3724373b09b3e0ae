"""Live views that cost nothing while nothing happens.

A view of work in progress redraws itself every 2 s while something runs. When nothing runs it is drawn once, and
a check that draws nothing asks the database every 15 s whether something has started (from another page, the
command line or a pipeline); the page is then drawn again, live. A live view whose work has ended draws the page
again too, so it settles into the quiet mode with its final state."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

LIVE = "2s"
QUIET = "15s"


def follow(render: Callable[[], None], busy: Callable[[], bool]) -> None:
    """Draw ``render()``: every 2 s while ``busy()``, else once, with the 15-second check for new work."""
    if busy():

        def live() -> None:
            render()
            if not busy():
                st.rerun(scope="app")

        st.fragment(live, run_every=LIVE)()
        return
    render()

    def watch() -> None:
        if busy():
            st.rerun(scope="app")

    st.fragment(watch, run_every=QUIET)()
