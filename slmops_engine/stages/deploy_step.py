"""Deploying as a pipeline step: serve the model and wait until it answers (or says why it cannot)."""

from __future__ import annotations


def deploy_step(config: dict, project_id: int | None) -> dict:
    from ..errors import SlmopsError
    from ..models import DeploymentStatus
    from ..serving import deployments as deps

    dep = deps.deploy(int(config["variant_id"]), project_id=project_id)
    dep = deps.wait_for(dep.id, {DeploymentStatus.running, DeploymentStatus.failed}, float(config.get("timeout", 120)))
    if dep.status != DeploymentStatus.running:
        raise SlmopsError(f"The deployment did not start: {dep.error_label or dep.status.value}", dep.error_hint or "")
    return {"deployment_id": dep.id, "endpoint": dep.endpoint, "model_id": dep.model_id}
