"""District maps drawn as inline SVG on the server: no tiles, no map library, nothing online.

The boundaries are lon/lat GeoJSON; an equirectangular projection scaled by cos(mid-latitude) is
accurate enough for a city-sized map (Chengdu spans about 1.5° of latitude).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Ring = list[tuple[float, float]]

# Sequential palette (ColorBrewer YlGnBu, 7 classes): readable for colour-blind users and in print.
PALETTE = ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84")
NO_DATA = "#e5e7eb"


@dataclass(frozen=True)
class Shape:
    code: str
    path: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class MapFrame:
    width: int
    height: int
    shapes: tuple[Shape, ...]


def _rings(geometry: dict[str, Any]) -> list[Ring]:
    kind = geometry.get("type")
    coords: Any = geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else (coords if kind == "MultiPolygon" else [])
    return [[(float(x), float(y)) for x, y, *_ in ring] for polygon in polygons for ring in polygon]


@lru_cache(maxsize=16)
def project(boundaries: tuple[tuple[str, str], ...], *, width: int = 640) -> MapFrame:
    """SVG paths for ``(code, GeoJSON geometry)`` pairs, fitted into ``width`` pixels."""
    rings = {code: _rings(json.loads(geometry)) for code, geometry in boundaries}
    points = [p for code_rings in rings.values() for ring in code_rings for p in ring]
    if not points:
        return MapFrame(width, 0, ())
    min_x = min(p[0] for p in points)
    max_x = max(p[0] for p in points)
    min_y = min(p[1] for p in points)
    max_y = max(p[1] for p in points)
    squeeze = math.cos(math.radians((min_y + max_y) / 2))
    scale = width / max((max_x - min_x) * squeeze, 1e-9)
    height = max(1, round((max_y - min_y) * scale))

    def xy(point: tuple[float, float]) -> tuple[float, float]:
        return round((point[0] - min_x) * squeeze * scale, 1), round((max_y - point[1]) * scale, 1)

    shapes = []
    for code, code_rings in rings.items():
        parts = []
        for ring in code_rings:
            projected: list[tuple[float, float]] = []
            for point in ring:
                p = xy(point)
                if not projected or p != projected[-1]:
                    projected.append(p)
            if len(projected) >= 3:
                parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in projected) + "Z")
        biggest = max(code_rings, key=len, default=[])
        centre = [xy(p) for p in biggest] or [(0.0, 0.0)]
        shapes.append(
            Shape(
                code,
                "".join(parts),
                round(sum(p[0] for p in centre) / len(centre), 1),
                round(sum(p[1] for p in centre) / len(centre), 1),
            )
        )
    return MapFrame(width, height, tuple(shapes))


def classes(values: Sequence[float | None], *, steps: int = len(PALETTE)) -> tuple[list[str], list[float]]:
    """A colour per value (equal-interval classes between min and max) and the class breaks."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return [NO_DATA for _ in values], []
    low, high = min(present), max(present)
    span = high - low
    breaks = [low + span * i / steps for i in range(steps + 1)]
    colours = []
    for value in values:
        if value is None or not math.isfinite(value):
            colours.append(NO_DATA)
            continue
        index = steps - 1 if span == 0 else min(steps - 1, int((value - low) / span * steps))
        colours.append(PALETTE[index])
    return colours, breaks
