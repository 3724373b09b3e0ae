"""Chat: talk to a deployed model through its real endpoint, or to a multi-adapter model in the app with the
adapter of your choice; compare two side by side."""

from __future__ import annotations

import streamlit as st

from slmops_engine.models import DeploymentStatus
from slmops_engine.serving.adapter_chat import multi_adapter_variants
from slmops_engine.serving.deployments import list_deployments
from slmops_ui import chat_view
from slmops_ui.chat_targets import pick_target
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Chat")
st.caption(
    "Ask a deployed model anything: it answers through Foundry Local's OpenAI-compatible endpoint, exactly as your "
    "own code would reach it. Models with several adapters answer in the app, with the adapter you switch on. "
    "**Compare** sends the same message to two of them side by side."
)

running = [d for d in list_deployments(project.id) if d.status == DeploymentStatus.running]
multi = multi_adapter_variants(project.id)
if not running and not multi:
    st.info("**No deployment is running.** Deploy a model (or restart one) on the Deploy page.", icon=":material/chat:")
    link_to("deploy", "Go to Deploy")
    st.stop()

k = f"chat_{project.id}"
c1, c2 = st.columns([3, 1])
with c1:
    targets = [pick_target(running, multi, f"{k}_a", "Talk to")]
can_compare = len(running) > 1 or bool(multi)  # two deployments, or one model's adapters side by side
compare = c2.toggle(
    "Compare",
    key=f"{k}_compare",
    disabled=not can_compare,
    help="Send each message to a second model (or adapter) too."
    if can_compare
    else "Needs a second running deployment (or a model with adapters) to compare with.",
)
if not can_compare:
    with c1:
        st.caption(
            ":material/compare_arrows: To compare, deploy a second model — the base student beside the fine-tuned "
            "one, or two int4 routes."
        )
        link_to("deploy", "Deploy another model")
if compare and can_compare:
    with c1:
        other = pick_target(running, multi, f"{k}_b", "Compare with", second=True)
    if other.key == targets[0].key:
        st.caption(":material/info: Pick another deployment or adapter to compare with.")
    else:
        targets.append(other)

with st.expander("Settings", icon=":material/tune:"):
    system = st.text_area("System prompt", "", key=f"{k}_system", placeholder="Optional instructions")
    s1, s2 = st.columns(2)
    temperature = s1.slider("Temperature", 0.0, 2.0, targets[0].temperature, 0.05, key=f"{k}_t")
    max_tokens = s2.number_input("Max tokens", 1, 4096, 256, key=f"{k}_max")

turns = chat_view.history(f"{k}_" + "|".join(t.key for t in targets))
chat_view.show_turns(turns, targets)
prompt = st.chat_input("Message", key=f"{k}_input")
if prompt:
    chat_view.answer_turn(prompt, targets, turns, system, {"temperature": temperature, "max_tokens": int(max_tokens)})
if turns:
    b1, b2, _ = st.columns([1, 1, 3])
    if b1.button("Clear", icon=":material/delete_sweep:", key="chat_clear"):
        turns.clear()
        st.rerun()
    b2.download_button(
        "Download",
        chat_view.export(turns, targets, system),
        file_name="conversation.json",
        mime="application/json",
        icon=":material/download:",
        key="chat_download",
    )
