"""Time as a dependency: services take ``now`` from a clock so tests of lockout, timeouts and
retention move time instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Stored datetimes come back naive from SQLite; they are UTC by construction."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
