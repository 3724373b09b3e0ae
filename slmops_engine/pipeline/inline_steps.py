"""Pipeline steps that run inside the pipeline's own job (quick, nothing to resume): keeping the unflagged
teacher answers, and deploying (serve the model and wait until it answers, or say why it cannot)."""

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


def keep_step(config: dict, project_id: int | None) -> dict:
    """The teacher's answers without the flagged ones (empty, refused, cut off, not a label ...), as a reviewed
    dataset: what an operator gets from 'Reject every flagged answer' on the Distill page."""
    from ..synth.review import ReviewDecisions, save_review

    reviewed = save_review(int(config["dataset_id"]), ReviewDecisions(reject_flagged=True))
    return {"dataset_id": reviewed.id, "rows": reviewed.n_rows, "dropped": reviewed.info["review"]["rejected"]}


INLINE_STEPS = {"deploy": deploy_step, "review": keep_step}
