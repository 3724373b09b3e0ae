"""Where things live and the limits the engine works within (environment variables prefixed SLMOPS_)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLMOPS_", extra="ignore")

    home: Path = Field(Path("storage"), description="Runtime home: database, uploads, runs and models.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata database; SQLite in the home folder when unset."
    )
    max_heavy_jobs: int = Field(1, ge=1, le=64, description="Heavy jobs (training, conversion) run at the same time.")
    max_jobs: int = Field(4, ge=1, le=256, description="All jobs that run at the same time.")
    cancel_grace_seconds: float = Field(
        10.0, ge=0.5, le=600, description="How long a job may take to stop after Cancel before it is terminated."
    )
    poll_seconds: float = Field(0.5, ge=0.05, le=10, description="How often the supervisor looks for work.")
    supervisor_idle_seconds: float = Field(
        600.0,
        ge=0,
        le=7 * 24 * 3600,
        description="A supervisor started in the background exits after this long with no job queued or running "
        "(0: it never exits). One run with `slmops worker` runs until stopped.",
    )
    upload_limit_mb: int = Field(200, ge=1, le=10_000, description="Largest data file accepted.")
    executor: str = Field("local", description="Where jobs run: 'local' processes or a 'ray' cluster.")
    serve_port: int = Field(
        5282,
        ge=1024,
        le=65535,
        description="Port of the local model server (Foundry Local's OpenAI-compatible API); when another program "
        "holds it, the server listens on a free port and records it.",
    )
    serve_port_fixed: bool = Field(
        False, description="Only ever serve on serve_port: fail when it is taken instead of choosing a free port."
    )
    serve_probe_seconds: float = Field(
        30.0, ge=0.5, le=3600, description="How often the model server checks each deployment answers."
    )
    ray_address: str | None = Field(None, description="Ray cluster address for the ray executor ('auto' to attach).")
    storage_url: str | None = Field(
        None, description="fsspec URL of an object store that mirrors datasets, models and runs (Ray without NFS)."
    )
    sign_in: bool = Field(False, description="Ask for a name and password before the dashboard shows anything.")
    open_dashboard: bool = Field(
        False, description="Serve the dashboard beyond this machine without sign-in (an explicit choice)."
    )
    cookie_key: str | None = Field(
        None, description="Key that signs the sign-in cookie; a random one kept in SLMOPS_HOME when unset."
    )

    @field_validator("home")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        # Workers are started with this path in their environment, so it must not depend on their cwd.
        return v.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'slmops.db'}"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving"

    def signing_key(self) -> str:
        """The sign-in cookie's key: the configured one, else a random one made once and kept beside the data."""
        if self.cookie_key:
            return self.cookie_key
        import secrets

        path = self.home / ".cookie-key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def ensure_dirs(self) -> None:
        for p in (self.home, self.runs_dir, self.models_dir, self.datasets_dir):
            p.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    s = Settings()
    s.ensure_dirs()
    return s


def worker_env() -> dict[str, str]:
    """The environment of a process this one starts (a job's worker, the supervisor, the model server): ours (API
    keys reach a worker this way, never through the database) plus the resolved storage location, so that it works
    whatever its cwd."""
    env = dict(os.environ)
    s = get_settings()
    env["SLMOPS_HOME"] = str(s.home)
    env["SLMOPS_DATABASE_URL"] = s.db_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def reset_settings() -> None:
    """Forget cached settings (after the environment changed, e.g. in tests)."""
    get_settings.cache_clear()
