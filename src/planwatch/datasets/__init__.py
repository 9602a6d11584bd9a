"""Shipped example data: the Chengdu 14th Five-Year Plan catalogue, divisions and simulator."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def chengdu_path(name: str) -> Path:
    """Path of a file in the shipped Chengdu dataset (``plan.yaml``, ``divisions.csv`` …)."""
    return Path(str(resources.files("planwatch.datasets") / "chengdu" / name))
