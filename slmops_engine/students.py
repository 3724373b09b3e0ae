"""The student model a project trains: a catalog (hub) model, a folder on this machine, or the bundled model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .catalog import BUNDLED_ID, find_model
from .errors import ConfigError, ModelLoadError
from .hub import resolve_hub_model


class StudentChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    source: Literal["catalog", "local", "bundled"] = Field(description="Where the student comes from.")
    model_id: str | None = Field(None, description="Hugging Face model id (catalog source).")
    path: str | None = Field(None, description="Model folder on this machine (local source).")

    @model_validator(mode="after")
    def _complete(self) -> StudentChoice:
        if self.source == "catalog" and not self.model_id:
            raise ValueError("a catalog student needs model_id")
        if self.source == "local" and not self.path:
            raise ValueError("a local student needs path")
        return self

    @property
    def label(self) -> str:
        if self.source == "bundled":
            return "SmolLM2-135M-Instruct (bundled, offline)"
        if self.source == "local":
            return f"Folder {self.path}"
        m = find_model(self.model_id or "")
        return m.name if m else str(self.model_id)


def bundled_choice() -> StudentChoice:
    return StudentChoice(source="bundled", model_id=BUNDLED_ID)


def resolve_student(choice: StudentChoice) -> Path:
    """A local folder with the student's weights; clear errors when it is not available (never a hang)."""
    if choice.source == "local":
        from .model_folder import inspect_model_folder

        return inspect_model_folder(choice.path or "").path
    if choice.source == "bundled":
        from .bundled import bundled_model_path

        path = bundled_model_path()
        if path is None:
            raise ModelLoadError(
                "The bundled model is not prepared yet",
                "Prepare it on the Models page or with `slmops models prepare-demo` (about a minute, once).",
            )
        return path
    if not choice.model_id:
        raise ConfigError("No model id given", "Choose a model from the catalog.")
    return resolve_hub_model(choice.model_id)
