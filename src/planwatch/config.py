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
    trend_window: int = Field(default=3, ge=1)
    """A trend target (持续下降) is judged on this many latest year-on-year changes."""

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
    thresholds: StatusThresholds = Field(default_factory=StatusThresholds)

    demo: bool = False
    """Demo mode: accounts are created with known passwords that need no change at first login."""
    dengbao_mode: bool = True
    """等保 mode: password complexity classes and rotation for administrators (GB/T 22239-2019)."""
    password_min_length: int = Field(default=12, ge=8, le=64)
    password_rotation_days: int = Field(default=90, ge=1)
    """等保 mode: administrators must change their password after this many days."""
    lockout_failures: int = Field(default=5, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    ip_failures_per_window: int = Field(default=50, ge=1)
    """Failed logins from one address within the lockout window before it gets 429."""
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    token_max_days: int = Field(default=365, ge=1)
    cookie_secure: bool = True
    """Session cookies only over HTTPS (browsers also send them to http://127.0.0.1 and localhost)."""
    data_key: SecretStr | None = None
    """Key (Fernet, urlsafe base64) that encrypts personal data in the database; if unset, the key
    file below is used (and created by `planwatch init`)."""
    key_file: Path = Field(default_factory=lambda: Path.cwd() / "planwatch.key")
    log_retention_days: int = Field(default=365, ge=184)
    """Security-log retention; the law's floor is six months (184 days)."""

    entry_expiry_days: int = Field(default=90, ge=0, le=3660)
    """Days after a period ends that values may still be entered (DHIS2 "expiry days"); a
    department's ``expiry_days`` in the catalogue overrides it for its indicators."""
    upload_max_bytes: int = Field(default=16 * 2**20, ge=1024)
    """Largest request body accepted (uploads included); larger ones are refused while streaming."""
    import_max_rows: int = Field(default=200_000, ge=1)
    """Most data rows one import file may hold."""
    import_max_uncompressed_bytes: int = Field(default=256 * 2**20, ge=2**20)
    """Most bytes an XLSX may unpack to (zip-bomb guard)."""
    outlier_threshold: float = Field(default=3.5, gt=0)
    """Modified z-score above which a value is reported as a possible outlier (a warning)."""
    # citizens' requests (service_requests/)
    jurisdiction_id: str = "chengdu.gov.cn"
    """Open311 ``jurisdiction_id`` of this endpoint (a single-jurisdiction server accepts it
    missing or equal to this)."""
    request_description_max_chars: int = Field(default=4000, ge=100, le=100_000)
    """Open311 caps a description at 4,000 characters."""
    requests_per_minute: int = Field(default=30, ge=1)
    """POSTs one client (api_key, or address for the web form) may make per minute before 429."""
    request_pii_retention_days: int = Field(default=180, ge=1)
    """Days after a request is closed that its reporter's name, phone, e-mail and device are kept;
    ``planwatch requests anonymise`` erases them afterwards."""
    request_min_n: int = Field(default=20, ge=1)
    """Units with fewer cases than this in a period get no rank on the requests dashboard."""
    request_location_max_m: float = Field(default=2000.0, gt=0)
    """A point farther than this from every address point of its district is located at the
    district only (its street and community stay unknown)."""
