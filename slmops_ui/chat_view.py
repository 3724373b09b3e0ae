"""The Chat page's conversation: turns kept in the session (a UI selection, like a scroll position), answers
streamed from each target (a deployment's real endpoint, or an adapter switched on in the app), with time to first
token and tokens/s under each answer; in compare mode two targets answer the same message side by side, each
continuing its own conversation."""

from __future__ import annotations

import json

import streamlit as st

from slmops_engine.errors import SlmopsError

from .chat_targets import Target
from .feedback import show_error


def history(key: str) -> list[dict]:
    """[{"user": text, "answers": {target key: {"text", "ttft_ms", "tokens_per_s", "tokens"}}}]"""
    return st.session_state.setdefault(key, [])


def messages_for(target_key: str, turns: list[dict], system: str, new: str) -> list[dict]:
    out = [{"role": "system", "content": system}] if system.strip() else []
    for t in turns:
        answer = t["answers"].get(target_key)
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


def _columns(n: int) -> list:
    return st.columns(n) if n > 1 else [st.container()]


def show_turns(turns: list[dict], targets: list[Target]) -> None:
    for t in turns:
        with st.chat_message("user"):
            st.markdown(t["user"])
        for col, target in zip(_columns(len(targets)), targets, strict=True):
            a = t["answers"].get(target.key)
            if a is None:
                continue
            with col, st.chat_message("assistant"):
                if len(targets) > 1:
                    st.caption(target.label)
                st.markdown(a["text"] or "*(no text)*")
                st.caption(stats_line(a))


def answer_turn(prompt: str, targets: list[Target], turns: list[dict], system: str, options: dict) -> None:
    """Stream each target's answer to `prompt` and keep the turn."""
    with st.chat_message("user"):
        st.markdown(prompt)
    turn = {"user": prompt, "answers": {}}
    for col, target in zip(_columns(len(targets)), targets, strict=True):
        with col, st.chat_message("assistant"):
            if len(targets) > 1:
                st.caption(target.label)
            result = {"text": "", "tokens": 0, "ttft_ms": None, "tokens_per_s": None}
            try:
                answer = target.open(messages_for(target.key, turns, system, prompt), options)
                st.write_stream(answer)
                result |= {
                    "text": answer.text,
                    "tokens": answer.tokens,
                    "ttft_ms": answer.ttft_ms,
                    "tokens_per_s": answer.tokens_per_s,
                }
            except SlmopsError as exc:
                show_error(exc)
                result["error"] = exc.message
            st.caption(stats_line(result))
        turn["answers"][target.key] = result
    turns.append(turn)


def export(turns: list[dict], targets: list[Target], system: str) -> str:
    return json.dumps(
        {"models": {t.key: t.label for t in targets}, "system": system, "turns": turns}, indent=2, ensure_ascii=False
    )
