"""Sign-in for a shared dashboard (streamlit-authenticator over the users ``slmops users add`` made), and the
refusal to serve anyone beyond this machine without it unless the operator chose that explicitly."""

from __future__ import annotations

import streamlit as st

from slmops_engine.identity import sign_in_as
from slmops_engine.settings import Settings
from slmops_engine.users import credentials

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
COOKIE = "slmops_studio_sign_in"


def exposed(address: str | None, settings: Settings) -> bool:
    """Served beyond this machine (an empty address listens on every interface) with nobody asked who they are."""
    return (address or "") not in LOOPBACK and not settings.sign_in and not settings.open_dashboard


def gate(settings: Settings) -> bool:
    """Whether the page may be shown: served on this machine only, or to someone signed in (the sign-in form, or
    why nothing shows, is drawn otherwise)."""
    if exposed(st.get_option("server.address"), settings):
        st.error(
            "**This dashboard is reachable beyond this machine and nobody is asked to sign in**, so it shows nothing. "
            "Turn sign-in on (`SLMOPS_SIGN_IN=1`, users added with `slmops users add NAME`), serve it on "
            "127.0.0.1 only, or — if the network is trusted — say so with `SLMOPS_OPEN_DASHBOARD=1`.",
            icon=":material/lock:",
        )
        return False
    if not settings.sign_in:
        return True
    users = credentials()
    if not users["usernames"]:
        st.error(
            "**Sign-in is on, but nobody can sign in yet.** Add a user on the server: `slmops users add NAME`.",
            icon=":material/person_add:",
        )
        return False
    import streamlit_authenticator as stauth

    # No remembered sign-in cookie: the library's cookie is written by a browser component that a page run can
    # remove before it runs, so it was not reliable. A sign-in lasts while the browser tab keeps its session.
    auth = stauth.Authenticate(users, COOKIE, settings.signing_key(), cookie_expiry_days=0, auto_hash=False)
    auth.login(location="main", fields={"Form name": "Sign in to SLMOps Studio", "Username": "Name"})
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Wrong name or password.")
    if not status:
        return False
    name = st.session_state["username"]
    sign_in_as(name)
    with st.sidebar:
        st.caption(f"Signed in as **{name}**")
        auth.logout("Sign out", location="sidebar", key="sign_out")
    return True
