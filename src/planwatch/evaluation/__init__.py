"""Evaluation: pure, vectorised functions over plain data, and the service that feeds them.

The rules are documented in one place: ``docs/evaluation.md``.
"""

from planwatch.evaluation.progress import (
    Status,
    actual_progress,
    classify,
    is_met,
    time_progress,
)
from planwatch.evaluation.rollup import aggregate

__all__ = ["Status", "actual_progress", "aggregate", "classify", "is_met", "time_progress"]
