"""Server-side SVG district maps: projection and colour classes."""

from __future__ import annotations

import json
import math

from planwatch.datasets import chengdu_path
from planwatch.divisions.maps import NO_DATA, PALETTE, classes, project


def square(x: float, y: float, size: float) -> str:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_projection_fits_the_width_and_keeps_aspect() -> None:
    frame = project((("a", square(104.0, 30.0, 1.0)),), width=600)
    assert frame.width == 600
    # one degree of longitude at 30.5°N is cos(30.5°) of a degree of latitude
    assert frame.height == round(600 / math.cos(math.radians(30.5)))
    [shape] = frame.shapes
    assert shape.path.startswith("M0,")
    assert shape.path.endswith("Z")


def test_north_is_up() -> None:
    frame = project((("south", square(104.0, 30.0, 0.5)), ("north", square(104.0, 30.5, 0.5))))
    by_code = {s.code: s for s in frame.shapes}
    assert by_code["north"].label_y < by_code["south"].label_y


def test_multipolygons_become_several_subpaths() -> None:
    geometry = {
        "type": "MultiPolygon",
        "coordinates": [
            json.loads(square(104, 30, 0.1))["coordinates"],
            json.loads(square(105, 30, 0.1))["coordinates"],
        ],
    }
    [shape] = project((("m", json.dumps(geometry)),)).shapes
    assert shape.path.count("M") == 2


def test_chengdu_districts_project() -> None:
    data = json.loads(chengdu_path("districts.geojson").read_text(encoding="utf-8"))
    pairs = tuple(sorted((f["properties"]["code"], json.dumps(f["geometry"])) for f in data["features"]))
    frame = project(pairs)
    assert len(frame.shapes) == 20
    assert all(0 <= s.label_x <= frame.width and 0 <= s.label_y <= frame.height for s in frame.shapes)


def test_classes_span_min_to_max_and_mark_missing() -> None:
    colours, breaks = classes([0.0, 50.0, 100.0, None, float("nan")])
    assert colours[0] == PALETTE[0]
    assert colours[2] == PALETTE[-1]
    assert colours[3] == colours[4] == NO_DATA
    assert breaks[0] == 0.0
    assert breaks[-1] == 100.0


def test_classes_of_equal_values_and_of_nothing() -> None:
    assert classes([5.0, 5.0])[0] == [PALETTE[-1], PALETTE[-1]]
    assert classes([None]) == ([NO_DATA], [])
