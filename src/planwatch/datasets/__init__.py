"""Shipped example data: the Chengdu 14th Five-Year Plan catalogue, divisions and simulator."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHENGDU_PLAN_CODE = "CD-14FYP"
"""Code of the shipped Chengdu 14th Five-Year Plan in ``chengdu/plan.yaml``."""


def chengdu_path(name: str) -> Path:
    """Path of a file in the shipped Chengdu dataset (``plan.yaml``, ``divisions.csv`` …)."""
    return Path(str(resources.files("planwatch.datasets") / "chengdu" / name))
