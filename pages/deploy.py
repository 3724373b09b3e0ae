"""Deploy: serve an ONNX model with Foundry Local at a local OpenAI-compatible endpoint, and watch it."""

from __future__ import annotations

import streamlit as st

from slmops_engine.serving.deployments import configured_endpoint, endpoint, list_deployments
from slmops_engine.variants import list_variants
from slmops_ui import deploy_list, deploy_settings
from slmops_ui.feedback import show_flash
from slmops_ui.nav import ensure_frame, link_to
from slmops_ui.project import require_project

ensure_frame()
project = require_project()
st.title("Deploy")
# The model server records where it listens: the configured port, or a free one when another program held it.
where = f"`{endpoint()}`" if endpoint() else f"`{configured_endpoint()}` (or a free port, if that one is taken)"
st.caption(
    "Serve a converted model with **Foundry Local** on this machine. Any OpenAI-compatible client — this app's Chat "
    f"page, your code, other tools — talks to it at {where}. Deployments keep running when you leave."
)
show_flash()

variants = [v for v in list_variants(project.id, stage="convert") if v.format == "onnx"]
if not variants:
    st.info(
        "**No ONNX model yet.** Convert a model on the Optimize page (int4 is the usual pick), then deploy it here.",
        icon=":material/rocket_launch:",
    )
    link_to("optimize", "Go to Optimize")
else:
    st.subheader("Deploy a model")
    source = deploy_settings.pick_model(project, variants)
    deploy_settings.deploy_panel(project, source)

deploy_list.deployments_panel(project.id)
if any(d.status.active for d in list_deployments(project.id)):  # a link to chat with nothing to chat with misleads
    link_to("chat", "Next: chat with a deployment")
