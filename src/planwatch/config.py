"""One typed settings object, read from ``PLANWATCH_*`` environment variables.

The settings are built once at the edge (CLI entry, ``create_app``) and passed in; no module reads
the environment on its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'planwatch.db'}"


class StatusThresholds(BaseSettings):
    """Cut-offs on r = actual progress / time progress (序时进度), see docs/evaluation.md."""

    model_config = SettingsConfigDict(env_prefix="PLANWATCH_STATUS_", extra="forbid")

    ahead: float = 1.05
    """r at or above this is ``ahead`` (快于预期)."""
    on_track: float = 0.95
    """r at or above this (and below ``ahead``) is ``on_track`` (基本符合预期)."""
    lagging: float = 0.7
    """r at or above this (and below ``on_track``) is ``lagging`` (滞后); below: seriously lagging."""

    @model_validator(mode="after")
    def _ordered(self) -> StatusThresholds:
        if not (self.ahead >= self.on_track >= self.lagging >= 0):
            msg = (
                "status thresholds must satisfy ahead >= on_track >= lagging >= 0, got "
                f"ahead={self.ahead}, on_track={self.on_track}, lagging={self.lagging}"
            )
            raise ValueError(msg)
        return self


class Settings(BaseSettings):
    """Everything planwatch can be configured with."""

    model_config = SettingsConfigDict(env_prefix="PLANWATCH_", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    """SQLAlchemy URL; default a SQLite file ``planwatch.db`` in the working directory."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    language: str = "zh"
    """Default UI language: ``zh`` (Chinese) or ``en``."""
    admin_token: SecretStr | None = None
    """Bearer token that allows catalogue edits over the API; unset means the API is read-only."""
    thresholds: StatusThresholds = Field(default_factory=StatusThresholds)
