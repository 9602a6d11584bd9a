"""Where people live (origins) and where facilities are, read from CSV or point layers.

Origins: one row per residential point (a building, a population grid cell or a community
centroid) with ``lon``, ``lat``, ``division_code`` (the lowest division it belongs to),
``population`` and optional age bands ``age_0_14``, ``age_15_59``, ``age_60_plus``,
``age_65_plus``. Facilities: ``id``, ``type``, ``name``, ``lon``, ``lat``, optional ``capacity``
(the unit depends on the type: m² of effective area for shelters, beds, places) and
``division_code``. Candidates for new sites: ``id``, ``type`` (empty: any type), ``lon``, ``lat``.

A ``simulated`` column (true/false) marks synthetic rows (模拟数据); anything computed from a
simulated row is labelled simulated. Every problem names the file, row and column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio.errors
import pyogrio.raw
import pyproj
import shapely

from planwatch.errors import ImportFileError

AGE_COLUMNS: Final = {"0-14": "age_0_14", "15-59": "age_15_59", "60+": "age_60_plus", "65+": "age_65_plus"}
"""Age band (as in the population table) → origin file column."""

GROUP_COLUMNS: Final = {"total": "population", **AGE_COLUMNS}

_TRUE: Final = {"1", "true", "yes", "y", "是", "t"}


@dataclass(frozen=True, eq=False)
class Points:
    """Points projected to the network's CRS, with their file's provenance."""

    ids: npt.NDArray[np.str_]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    source: str
    sha256: str
    simulated: bool

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class Origins(Points):
    division_code: npt.NDArray[np.str_]
    population: dict[str, npt.NDArray[np.float64]]
    """Group (``total``, ``0-14``, ``60+`` …) → persons at each point; only the groups the file has."""

    def weights(self, group: str) -> npt.NDArray[np.float64]:
        try:
            return self.population[group]
        except KeyError:
            column = GROUP_COLUMNS.get(group, group)
            raise ImportFileError(
                self.source,
                f"has no column '{column}' (population of age group {group}); add it, or change the circle's group",
            ) from None


@dataclass(frozen=True, eq=False)
class Facilities(Points):
    type: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    capacity: npt.NDArray[np.float64]
    """NaN where not given."""
    division_code: npt.NDArray[np.str_]

    def of_type(self, code: str) -> npt.NDArray[np.int64]:
        return np.flatnonzero(self.type == code)


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    if not path.exists():
        raise ImportFileError(str(path), "no such file; check the path")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json", ".gpkg", ".shp"):
        return _point_layer(path), digest
    if suffix != ".csv":
        raise ImportFileError(
            str(path), "unsupported file type; use .csv (UTF-8 or GB18030), .geojson, .gpkg or .shp"
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding), digest
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise ImportFileError(
                str(path), "is empty; it needs a header row and one row per point"
            ) from None
    raise ImportFileError(str(path), "is neither UTF-8 nor GB18030 text; save it as CSV UTF-8")


def _point_layer(path: Path) -> pd.DataFrame:
    """A point layer's attributes with ``lon`` and ``lat`` (WGS 84) columns added."""
    try:
        meta, _, wkb, field_data = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise ImportFileError(str(path), f"cannot be read as a point layer ({exc})") from exc
    if not meta["crs"]:
        raise ImportFileError(str(path), "has no CRS; save it with one (EPSG:4326 for longitude/latitude)")
    geometry = shapely.from_wkb(wkb)
    kinds = shapely.get_type_id(geometry)
    wrong = np.flatnonzero(kinds != shapely.GeometryType.POINT)
    if len(wrong):
        kind = "no geometry" if kinds[wrong[0]] < 0 else shapely.GeometryType(kinds[wrong[0]]).name.lower()
        raise ImportFileError(
            str(path),
            f"feature {wrong[0] + 1} is a {kind}, not a point ({len(wrong)} such feature(s));"
            " give points (use centroids for buildings or areas)",
        )
    table = pd.DataFrame({str(name): values for name, values in zip(meta["fields"], field_data, strict=True)})
    to_wgs84 = pyproj.Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True)
    table["lon"], table["lat"] = to_wgs84.transform(shapely.get_x(geometry), shapely.get_y(geometry))
    return table.astype(str).replace({"None": "", "nan": ""})


def _require(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ImportFileError(
            str(path), f"column(s) {', '.join(missing)} missing; the header needs {', '.join(columns)}"
        )
    if frame.empty:
        raise ImportFileError(str(path), "has a header but no rows")


def _numbers(
    frame: pd.DataFrame, path: Path, column: str, *, optional: bool = False, low: float | None = None
) -> npt.NDArray[np.float64]:
    raw = frame[column].astype(str).str.strip().str.replace(",", "", regex=False)
    values = pd.to_numeric(raw.where(raw != "", None), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & ((raw != "").to_numpy() | (not optional))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ImportFileError(
            str(path),
            f"row {row + 2}, column '{column}': '{frame[column].iloc[row]}' is not a number; correct it",
        )
    if low is not None and (values < low).any():
        row = int(np.flatnonzero(values < low)[0])
        raise ImportFileError(
            str(path), f"row {row + 2}, column '{column}': {values[row]:g} is below {low:g}; correct it"
        )
    return values


def _points(frame: pd.DataFrame, path: Path, digest: str, crs: str) -> dict[str, object]:
    lon = _numbers(frame, path, "lon")
    lat = _numbers(frame, path, "lat")
    wrong = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise ImportFileError(
            str(path),
            f"row {row + 2}: lon {lon[row]:g}, lat {lat[row]:g} is not a WGS 84 longitude/latitude; give degrees",
        )
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    ids = (
        frame["id"].astype(str).to_numpy(dtype=str)
        if "id" in frame.columns
        else np.arange(len(frame)).astype(str)
    )
    duplicated = pd.Series(ids).duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ImportFileError(
            str(path), f"row {row + 2}, column 'id': '{ids[row]}' is used twice; ids must be unique"
        )
    simulated = (
        "simulated" in frame.columns
        and frame["simulated"].astype(str).str.strip().str.lower().isin(_TRUE).any()
    )
    return {
        "ids": ids,
        "lon": lon,
        "lat": lat,
        "x": np.asarray(x, dtype=np.float64),
        "y": np.asarray(y, dtype=np.float64),
        "source": path.name,
        "sha256": digest,
        "simulated": bool(simulated),
    }


def origins_from_file(path: Path, *, crs: str) -> Origins:
    """Read residential points and project them to ``crs`` (the network's)."""
    frame, digest = _read(path)
    _require(frame, path, ["lon", "lat", "division_code", "population"])
    population = {"total": _numbers(frame, path, "population", low=0)}
    for group, column in AGE_COLUMNS.items():
        if column in frame.columns:
            population[group] = _numbers(frame, path, column, low=0)
    codes = frame["division_code"].astype(str).str.strip().to_numpy(dtype=str)
    if (codes == "").any():
        row = int(np.flatnonzero(codes == "")[0])
        raise ImportFileError(
            str(path), f"row {row + 2}, column 'division_code' is empty; give the community code"
        )
    return Origins(**_points(frame, path, digest, crs), division_code=codes, population=population)  # type: ignore[arg-type]


def facilities_from_file(path: Path, *, crs: str, types: frozenset[str] | None = None) -> Facilities:
    """Read facilities (or candidate sites) and project them to ``crs``; ``types`` are the known
    facility type codes (an unknown one is an error naming the row)."""
    frame, digest = _read(path)
    _require(frame, path, ["type", "lon", "lat"])
    kind = frame["type"].astype(str).str.strip().to_numpy(dtype=str)
    if types is not None:
        unknown = ~np.isin(kind, [*types, ""])
        if unknown.any():
            row = int(np.flatnonzero(unknown)[0])
            raise ImportFileError(
                str(path),
                f"row {row + 2}, column 'type': unknown facility type '{kind[row]}'; use one of the standards' types (planwatch coverage standards)",
            )
    capacity = (
        _numbers(frame, path, "capacity", optional=True, low=0)
        if "capacity" in frame.columns
        else np.full(len(frame), np.nan)
    )
    name = frame["name"].astype(str).to_numpy(dtype=str) if "name" in frame.columns else kind.copy()
    codes = (
        frame["division_code"].astype(str).str.strip().to_numpy(dtype=str)
        if "division_code" in frame.columns
        else np.full(len(frame), "", dtype=str)
    )
    return Facilities(
        **_points(frame, path, digest, crs),  # type: ignore[arg-type]
        type=kind,
        name=name,
        capacity=capacity,
        division_code=codes,
    )
