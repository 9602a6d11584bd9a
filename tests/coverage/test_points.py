"""Residents' and facilities' points from CSV (UTF-8 or GB18030) and point layers; every problem
names the file, row (or feature) and column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planwatch.coverage.points import facilities_from_file, origins_from_file
from planwatch.errors import ImportFileError

UTM48N = "EPSG:32648"
HEADER = "id,lon,lat,division_code,population,age_0_14\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_origins_from_csv_are_projected_and_keep_their_age_bands(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        HEADER + "a,104.0657,30.6574,510104001001,1200,150\nb,104.07,30.66,510104001001,800.5,90\n",
    )
    origins = origins_from_file(path, crs=UTM48N)
    assert list(origins.ids) == ["a", "b"]
    assert origins.population["total"] == pytest.approx([1200, 800.5])
    assert origins.weights("0-14") == pytest.approx([150, 90])
    assert origins.x[0] == pytest.approx(410_487, abs=1)  # Tianfu Square in UTM 48N
    assert origins.y[0] == pytest.approx(3_391_950, abs=2000)
    assert not origins.simulated
    with pytest.raises(ImportFileError, match="no column 'age_60_plus'"):
        origins.weights("60+")


def test_a_gb18030_csv_with_chinese_names_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "f.csv",
        "id,type,name,lon,lat,capacity\nf1,shelter,天府广场避难场所,104.0657,30.6574,52000\n",
        "gb18030",
    )
    facilities = facilities_from_file(path, crs=UTM48N, types=frozenset({"shelter"}))
    assert list(facilities.name) == ["天府广场避难场所"]
    assert facilities.capacity == pytest.approx([52000])


def test_point_layers_are_read_in_their_crs(tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {"id": "p1", "type": "kindergarten", "name": "一幼"},
            "geometry": {"type": "Point", "coordinates": [104.0657, 30.6574]},
        },
        {
            "type": "Feature",
            "properties": {"id": "p2", "type": "kindergarten", "name": "二幼"},
            "geometry": {"type": "Point", "coordinates": [104.07, 30.66]},
        },
    ]
    path = _write(
        tmp_path / "k.geojson",
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
    )
    facilities = facilities_from_file(path, crs=UTM48N, types=frozenset({"kindergarten"}))
    assert list(facilities.ids) == ["p1", "p2"]
    assert facilities.lon == pytest.approx([104.0657, 104.07])
    assert np.all(facilities.x > 400_000)
    features[1]["geometry"] = {"type": "LineString", "coordinates": [[104.0, 30.0], [104.1, 30.1]]}
    bad = _write(tmp_path / "bad.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(ImportFileError, match=r"bad.geojson: feature 2 is a linestring, not a point"):
        facilities_from_file(bad, crs=UTM48N)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,104.06,30.65,510104001001\n", r"column\(s\) population missing"),
        ("", "has a header but no rows"),
        ("a,204.06,30.65,510104001001,10,1\n", r"row 2: lon 204.06, lat 30.65 is not a WGS 84"),
        ("a,104.06,30.65,510104001001,-3,1\n", r"row 2, column 'population': -3 is below 0"),
        ("a,104.06,30.65,510104001001,ten,1\n", r"row 2, column 'population': 'ten' is not a number"),
        ("a,104.06,30.65,,10,1\n", r"row 2, column 'division_code' is empty"),
        (
            "a,104.06,30.65,510104001001,10,1\na,104.06,30.65,510104001001,10,1\n",
            r"row 3, column 'id': 'a' is used twice",
        ),
    ],
)
def test_bad_origin_files_name_the_row_and_column(tmp_path: Path, rows: str, message: str) -> None:
    header = HEADER if "population missing" not in message else "id,lon,lat,division_code\n"
    path = _write(tmp_path / "o.csv", header + rows)
    with pytest.raises(ImportFileError, match=message):
        origins_from_file(path, crs=UTM48N)


def test_files_that_cannot_be_points_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        origins_from_file(tmp_path / "none.csv", crs=UTM48N)
    with pytest.raises(ImportFileError, match="unsupported file type"):
        origins_from_file(_write(tmp_path / "o.xlsx", "x"), crs=UTM48N)
    with pytest.raises(ImportFileError, match="is empty"):
        origins_from_file(_write(tmp_path / "o.csv", ""), crs=UTM48N)
    utf16 = _write(tmp_path / "u.csv", HEADER, "utf-16")
    with pytest.raises(ImportFileError, match="neither UTF-8 nor GB18030"):
        origins_from_file(utf16, crs=UTM48N)
