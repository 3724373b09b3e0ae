"""Projects and the lifecycle checklist."""

from __future__ import annotations

import pytest

from slmops_engine.db import session_scope
from slmops_engine.errors import ConfigError, NotFoundError
from slmops_engine.models import Dataset, ModelVariant
from slmops_engine.projects import create_project, get_project, lifecycle, list_projects, set_student, set_teacher
from slmops_engine.students import bundled_choice
from slmops_engine.teachers import Provider, TeacherConfig


def test_create_list_get_and_duplicate_names():
    p = create_project("  support-router ", "Route support messages")
    assert p.name == "support-router"
    assert get_project("support-router").id == p.id == get_project(p.id).id
    assert [x.name for x in list_projects()] == ["support-router"]
    with pytest.raises(ConfigError, match="already exists"):
        create_project("support-router")
    with pytest.raises(ConfigError, match="needs a name"):
        create_project("   ")
    with pytest.raises(NotFoundError):
        get_project("nope")


def test_lifecycle_follows_what_the_project_has():
    p = create_project("demo")
    steps = {s.key: s for s in lifecycle(p.id)}
    assert list(steps) == ["models", "data", "distill", "finetune", "optimize", "evaluate", "deploy"]
    assert not any(s.done for s in steps.values())

    set_teacher(p.id, TeacherConfig(provider=Provider.ollama, base_url="http://127.0.0.1:11434/v1", model="llama3"))
    assert not lifecycle(p.id)[0].done  # a teacher alone is not enough
    set_student(p.id, bundled_choice())
    models = lifecycle(p.id)[0]
    assert models.done and "llama3" in models.detail and "bundled" in models.detail

    with session_scope() as s:
        s.add(Dataset(project_id=p.id, name="raw", stage="upload"))
        s.add(ModelVariant(project_id=p.id, name="ft", stage="finetune"))
    done = {s.key for s in lifecycle(p.id) if s.done}
    assert done == {"models", "data", "finetune"}
