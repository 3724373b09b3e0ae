"""The Chat page's conversation: turns kept in the session (a UI selection, like a scroll position), answers
streamed from the deployment's real endpoint, with time to first token and tokens/s under each answer; in compare
mode two deployments answer the same message side by side, each continuing its own conversation."""

from __future__ import annotations

import json

import streamlit as st

from slmops_engine.errors import SlmopsError
from slmops_engine.models import Deployment
from slmops_engine.serving.chat import chat

from .feedback import show_error


def history(key: str) -> list[dict]:
    """[{"user": text, "answers": {deployment id: {"text", "ttft_ms", "tokens_per_s", "tokens"}}}]"""
    return st.session_state.setdefault(key, [])


def messages_for(dep_id: int, turns: list[dict], system: str, new: str) -> list[dict]:
    out = [{"role": "system", "content": system}] if system.strip() else []
    for t in turns:
        answer = t["answers"].get(str(dep_id))
        if answer is None:
            continue
        out += [{"role": "user", "content": t["user"]}, {"role": "assistant", "content": answer["text"]}]
    return out + [{"role": "user", "content": new}]


def stats_line(a: dict) -> str:
    if a.get("error"):
        return f":red[{a['error']}]"
    parts = [f"{a['tokens']} tokens"]
    if a.get("ttft_ms") is not None:
        parts.append(f"first token after {a['ttft_ms']:,.0f} ms")
    if a.get("tokens_per_s"):
        parts.append(f"{a['tokens_per_s']:,.1f} tokens/s")
    return " · ".join(parts)


def show_turns(turns: list[dict], deps: list[Deployment]) -> None:
    for t in turns:
        with st.chat_message("user"):
            st.markdown(t["user"])
        cols = st.columns(len(deps)) if len(deps) > 1 else [st.container()]
        for col, d in zip(cols, deps, strict=True):
            a = t["answers"].get(str(d.id))
            if a is None:
                continue
            with col, st.chat_message("assistant"):
                if len(deps) > 1:
                    st.caption(f"#{d.id} {d.name}")
                st.markdown(a["text"] or "*(no text)*")
                st.caption(stats_line(a))


def answer_turn(prompt: str, deps: list[Deployment], turns: list[dict], system: str, options: dict) -> None:
    """Stream each deployment's answer to `prompt` and keep the turn."""
    with st.chat_message("user"):
        st.markdown(prompt)
    turn = {"user": prompt, "answers": {}}
    cols = st.columns(len(deps)) if len(deps) > 1 else [st.container()]
    for col, d in zip(cols, deps, strict=True):
        with col, st.chat_message("assistant"):
            if len(deps) > 1:
                st.caption(f"#{d.id} {d.name}")
            result = {"text": "", "tokens": 0, "ttft_ms": None, "tokens_per_s": None}
            try:
                stream = chat(d, messages_for(d.id, turns, system, prompt), **options)
                st.write_stream(stream)
                result |= {
                    "text": stream.text,
                    "tokens": stream.tokens,
                    "ttft_ms": stream.ttft_ms,
                    "tokens_per_s": stream.tokens_per_s,
                }
            except SlmopsError as exc:
                show_error(exc)
                result["error"] = exc.message
            st.caption(stats_line(result))
        turn["answers"][str(d.id)] = result
    turns.append(turn)


def export(turns: list[dict], deps: list[Deployment], system: str) -> str:
    return json.dumps(
        {
            "deployments": {str(d.id): {"name": d.name, "model": d.model_id, "endpoint": d.endpoint} for d in deps},
            "system": system,
            "turns": turns,
        },
        indent=2,
        ensure_ascii=False,
    )
