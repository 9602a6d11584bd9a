"""Life-circle coverage runs (生活圈覆盖计算), their results per division, and siting runs (选址).

A run records exactly what it was computed from (file names, SHA-256, row counts, whether any
input is simulated), the circles it judged, its warnings, and the per-origin results the maps
draw (a compressed ``.npz`` blob, so a deployment needs no shared disk).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from planwatch.models.base import Base, utcnow
from planwatch.models.division import Division


class CoverageRun(Base):
    __tablename__ = "coverage_runs"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_by: Mapped[str] = mapped_column(String(150))
    year: Mapped[int]
    """The data year the results were written to."""
    network_name: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Per input (network, origins, facilities): path, file name, sha256, rows, simulated."""
    circles: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each circle judged: code, names, mode, threshold, unit, group, rule, measure, indicator and
    the whole area's result."""
    warnings: Mapped[list[str]] = mapped_column(JSON)
    simulated: Mapped[bool] = mapped_column(default=False)
    """Some input is synthetic (模拟数据): every figure of the run is labelled simulated."""
    seconds: Mapped[dict[str, float]] = mapped_column(JSON)
    written: Mapped[dict[str, int]] = mapped_column(JSON)
    """Indicator values written back: created, updated, unchanged, kept (reported values)."""
    origin_results: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    """``.npz``: origins (lon, lat, ids, division codes, population), per circle part the cost
    to the nearest facility, and the facilities (lon, lat, type, name)."""


class CoverageDivisionResult(Base):
    """One circle (or one facility type of it) summed over one division."""

    __tablename__ = "coverage_division_results"
    __table_args__ = (Index("ix_coverage_division_results_run_circle", "run_id", "circle_code", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("coverage_runs.id", ondelete="CASCADE"))
    circle_code: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(64), default="")
    """``""``: the circle by its rule; a facility type: that type alone."""
    division_id: Mapped[int] = mapped_column(ForeignKey("divisions.id", ondelete="RESTRICT"))
    population: Mapped[float] = mapped_column(Float)
    """Residents of the circle's group in the division."""
    covered: Mapped[float] = mapped_column(Float)
    share: Mapped[float | None] = mapped_column(Float)
    """Per cent; None without residents."""
    area: Mapped[float | None] = mapped_column(Float)
    """Area-per-resident circles: shelter area within reach assigned to the residents (m²)."""
    placed: Mapped[float | None] = mapped_column(Float)
    """Area-per-resident circles: residents given a place within reach."""

    division: Mapped[Division] = relationship()


class SitingRun(Base):
    """Where to build next: a maximal or set covering solved for one facility type."""

    __tablename__ = "siting_runs"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    coverage_run_id: Mapped[int | None] = mapped_column(ForeignKey("coverage_runs.id", ondelete="SET NULL"))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_by: Mapped[str] = mapped_column(String(150))
    circle_code: Mapped[str] = mapped_column(String(64))
    facility_type: Mapped[str] = mapped_column(String(64))
    problem: Mapped[str] = mapped_column(String(16))
    """``maximal`` (choose p sites) or ``set`` (fewest sites covering everyone reachable)."""
    method: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    p: Mapped[int | None]
    optimality_gap: Mapped[float | None] = mapped_column(Float)
    population: Mapped[float] = mapped_column(Float)
    covered_before: Mapped[float] = mapped_column(Float)
    covered_after: Mapped[float] = mapped_column(Float)
    sites: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Chosen sites in order: id, lon, lat, division code, population added, cumulative share."""
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    simulated: Mapped[bool] = mapped_column(default=False)
    seconds: Mapped[float] = mapped_column(Float)
