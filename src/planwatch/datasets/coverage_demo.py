"""A synthetic Chengdu street network, population points and facilities for the life-circle demo.

Everything here is **simulated (模拟数据)**: only the district boundaries (``districts.geojson``),
the division tree (``divisions.csv``) and the 2020 population totals (``population.csv``) are real.
The generator is pure and deterministic for a seed:

1. **Places.** Inside each real district polygon (projected to EPSG:32648, UTM 48N) street/town
   centres are spread with a few k-means steps over uniform samples: in the five central districts
   over the whole district; elsewhere the 街道 near "urban attractors" (the main city around
   Tianfu Square, the Tianfu New Area axis, the district seats, the airport new town) and the
   towns over the rest. Urban communities (社区) lie near their street's centre, villages (村)
   around it, so the communities of one street are neighbours.
2. **Network.** Per district a jittered street lattice (shared nodes where lines cross, a few
   missing links, secondary every fifth line, one-way streets and footways in the core): 120–150 m
   in the central districts, 200–300 m around suburban 街道, 150–250 m around towns; a sparse
   winding rural lattice elsewhere; four irregular ring roads (primary, with trunk chords on the 3rd
   and 绕城 rings between interchanges), radial avenues to the district seats and roads linking the
   towns. Pieces are stitched to their neighbours (connector edges to the nearest node of another
   piece) and clipped to the districts.
3. **Origins.** Each street's 2020 total is split over its communities and then over points near
   the network with largest-remainder rounding, so streets (and hence districts and the city) add
   up exactly. Age bands vary by place (villages and the old core older, new suburbs younger) and
   are rescaled per district so the district bands add up exactly too: per point 60+ first, then
   0-14 out of the rest, 15-59 = total − 0-14 − 60+, and 65+ out of 60+, each rounded within the
   district to the district's band. population.csv's district bands add up to their totals, so
   this is exact; the city's published bands do not (they are rounded to 100 persons and add up
   to 20,937,800), so the points' city 15-59 total is 43 below the published city figure while
   the city total, 0-14, 60+ and 65+ match it.
4. **Facilities and candidate sites** near the population, with deliberate gaps: fast-growing
   suburban streets and some outer towns are under-served, children's facilities are scarce in
   three districts.

Users replace any of the written files with their own through the CLI.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree
from shapely.geometry import shape

from planwatch.coverage.network import Network, road_class_code
from planwatch.datasets import chengdu_path
from planwatch.errors import PlanwatchError

__all__ = [
    "CANDIDATE_MIX",
    "FACILITY_TYPES",
    "CoverageDemo",
    "CoverageDemoError",
    "FacilityType",
    "build_coverage_demo",
    "round_by_group",
    "round_to_total",
    "write_coverage_demo",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

CRS: Final = "EPSG:32648"
CENTRE_LONLAT: Final = (104.0657, 30.6574)  # Tianfu Square 天府广场
CENTRAL: Final = ("510104", "510105", "510106", "510107", "510108")
SUBURBS: Final = ("510112", "510113", "510114", "510115", "510116", "510117", "510118")
SEATS: Final[Mapping[str, tuple[float, float]]] = {
    # approximate seats of the district governments (lon, lat); moved inside the polygon if needed
    "510112": (104.269, 30.556),
    "510113": (104.251, 30.878),
    "510114": (104.159, 30.823),
    "510115": (103.836, 30.682),
    "510116": (103.923, 30.574),
    "510117": (103.901, 30.795),
    "510118": (103.811, 30.410),
    "510121": (104.412, 30.862),
    "510129": (103.521, 30.587),
    "510131": (103.506, 30.197),
    "510181": (103.627, 30.991),
    "510182": (103.958, 30.990),
    "510183": (103.464, 30.410),
    "510184": (103.673, 30.630),
    "510185": (104.547, 30.411),
}
TIANFU_AXIS_END: Final = (104.070, 30.420)  # the southern axis along 天府大道 to the new area
AIRPORT_TOWN: Final = (104.440, 30.310)  # 东部新区 around 天府国际机场
RING_RADII_M: Final = (2300.0, 4500.0, 7500.0, 12000.0)
ORIGIN_SCHEMA: Final = (
    "id",
    "lon",
    "lat",
    "division_code",
    "population",
    "age_0_14",
    "age_15_59",
    "age_60_plus",
    "age_65_plus",
)
FACILITY_SCHEMA: Final = ("id", "type", "name", "lon", "lat", "capacity", "division_code")
CANDIDATE_SCHEMA: Final = ("id", "type", "lon", "lat", "division_code")
PEOPLE_PER_POINT: Final = 350.0
Level = Literal["community", "population", "street", "district", "road"]
Zone = Literal["core", "urban", "town"]


class CoverageDemoError(PlanwatchError):
    """The shipped Chengdu files disagree with each other or a parameter is out of range."""


@dataclass(frozen=True)
class FacilityType:
    """How one kind of facility is spread over the simulated city.

    ``rate`` is per community (``community``: a probability), per 10,000 residents
    (``population``), per street (``street``: a probability), per district (``district``) or per
    kilometre of main road (``road``); ``rural`` multiplies it in villages and towns.
    """

    name: str
    level: Level
    rate: float
    rural: float = 1.0
    children: bool = False
    capacity: Callable[[np.random.Generator, int], Floats] | None = None


def _steps(low: int, high: int, step: int) -> Callable[[np.random.Generator, int], Floats]:
    return lambda rng, n: rng.integers(low, high + 1, n).astype(np.float64) * step


def _lognormal(
    median: float, sigma: float, low: float, high: float, step: float
) -> Callable[[np.random.Generator, int], Floats]:
    return lambda rng, n: np.round(np.clip(median * rng.lognormal(0, sigma, n), low, high) / step) * step


FACILITY_TYPES: Final[Mapping[str, FacilityType]] = {
    # capacity: kindergarten/nursery places, school seats, nursing-home beds, shelter area in m²
    "kindergarten": FacilityType("幼儿园", "population", 1.5, 0.6, True, _steps(6, 15, 30)),
    "nursery": FacilityType("托育中心", "population", 0.6, 0.2, True, _steps(2, 15, 10)),
    "primary_school": FacilityType("小学", "population", 0.45, 0.9, False, _steps(12, 36, 45)),
    "junior_middle_school": FacilityType("初级中学", "population", 0.26, 0.9, False, _steps(12, 30, 50)),
    "health_station": FacilityType("卫生服务站", "community", 0.8, 1.1),
    "health_center": FacilityType("社区卫生服务中心", "street", 0.97),
    "elderly_day_care": FacilityType("日间照料中心", "community", 0.72, 0.45),
    "nursing_home": FacilityType("养老院", "population", 0.25, 1.2, False, _lognormal(150, 0.7, 30, 800, 10)),
    "community_service_station": FacilityType("综合服务站", "community", 0.93, 0.95),
    "community_service_center": FacilityType("综合服务中心", "street", 0.98),
    "culture_station": FacilityType("文化活动室", "community", 0.85, 0.9),
    "culture_center": FacilityType("综合文化站", "street", 0.95),
    "sports_small": FacilityType("运动场", "community", 0.7, 0.6),
    "sports_medium": FacilityType("全民健身中心", "street", 0.7, 0.6),
    "sports_large": FacilityType("体育中心", "district", 2.0),
    "outdoor_fitness": FacilityType("健身路径", "population", 1.7, 0.8),
    "market": FacilityType("菜市场", "population", 0.6, 0.6),
    "community_canteen": FacilityType("食堂", "community", 0.3, 0.15),
    "public_toilet": FacilityType("公共厕所", "population", 2.0, 0.6),
    "waste_station": FacilityType("垃圾收集站", "population", 1.2, 0.8),
    "children_complex": FacilityType("儿童之家综合体", "street", 0.55, 0.5, True),
    "children_play": FacilityType("儿童游乐场", "community", 0.35, 0.3, True),
    "community_park": FacilityType("社区公园", "population", 0.7, 0.15),
    "country_park": FacilityType("郊野公园", "district", 3.0),
    "fire_station": FacilityType("消防站", "population", 0.12, 0.8),
    "shelter": FacilityType(
        "应急避难场所", "population", 0.2, 0.7, False, _lognormal(20000, 0.9, 5000, 200000, 100)
    ),
    "bus_stop": FacilityType("公交站", "road", 1.0 / 0.45, 0.4),
}
"""The 27 facility types of the demo, keyed by type code."""

CANDIDATE_MIX: Final[Mapping[str, int]] = {
    "kindergarten": 800,
    "elderly_day_care": 800,
    "children_complex": 300,
    "fire_station": 300,
    "shelter": 300,
    "": 500,  # a site for any type
}


@dataclass(eq=False)
class CoverageDemo:
    """The simulated inputs of the life-circle coverage demo (模拟数据).

    Attributes
    ----------
    network : the street network (``simulated=True``, EPSG:32648)
    origins : population points, columns ``ORIGIN_SCHEMA``
    facilities : existing facilities, columns ``FACILITY_SCHEMA``
    candidates : candidate sites for new facilities, columns ``CANDIDATE_SCHEMA``
    """

    network: Network
    origins: pd.DataFrame
    facilities: pd.DataFrame
    candidates: pd.DataFrame
    seed: int
    scale: float
    seconds: float = field(default=0.0, compare=False)

    def summary(self) -> dict[str, object]:
        """Counts and totals, e.g. for the CLI and SIMULATED.md."""
        pieces = self.network.components("walk")
        return {
            "simulated": True,
            "seed": self.seed,
            "scale": self.scale,
            "nodes": self.network.node_count,
            "edges": self.network.edge_count,
            "walk_pieces": pieces.count,
            "largest_piece_share": round(pieces.largest_share, 5),
            "origins": len(self.origins),
            "population": int(self.origins["population"].sum()),
            "facilities": len(self.facilities),
            "facilities_by_type": {
                t: int(n) for t, n in self.facilities["type"].value_counts().sort_index().items()
            },
            "candidates": len(self.candidates),
            "build_seconds": round(self.seconds, 2),
        }


# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class _Geography:
    codes: tuple[str, ...]
    names: tuple[str, ...]
    polygons: tuple[shapely.Geometry, ...]
    """District polygons in metres, shrunk by 2 m so points survive the round trip to lon/lat."""
    outlines: tuple[shapely.Geometry, ...]
    """The same, not shrunk (roads may run in the 4 m seams between districts)."""
    divisions: pd.DataFrame
    street_population: Mapping[str, int]
    bands: pd.DataFrame
    """District age bands, index district code, columns total, 0-14, 15-59, 60+, 65+."""

    def project(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        x, y = _TO_XY.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def district_of(self, x: Floats, y: Floats, *, shrunk: bool = True) -> Ints:
        """Index of the district containing each point, -1 outside all."""
        out = np.full(len(x), -1, dtype=np.int64)
        for i, poly in enumerate(self.polygons if shrunk else self.outlines):
            x0, y0, x1, y1 = poly.bounds
            cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (out < 0))
            if len(cand):
                out[cand[shapely.contains_xy(poly, x[cand], y[cand])]] = i
        return out


_TO_XY: Final = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
_TO_LONLAT: Final = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


@cache
def _geography() -> _Geography:
    features = json.loads(chengdu_path("districts.geojson").read_text(encoding="utf-8"))["features"]
    divisions = pd.read_csv(chengdu_path("divisions.csv"), dtype=str, keep_default_na=False)
    population = pd.read_csv(chengdu_path("population.csv"), dtype={"division_code": str})
    population = population[population["year"] == 2020]

    def to_xy(coords: Floats) -> Floats:
        x, y = _TO_XY.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    polygons, outlines = [], []
    for feature in features:
        outline = shapely.transform(shape(feature["geometry"]), to_xy)
        outline = shapely.make_valid(outline, method="structure", keep_collapsed=False)
        shrunk = outline.buffer(-2.0)
        shapely.prepare(outline)
        shapely.prepare(shrunk)
        polygons.append(shrunk)
        outlines.append(outline)
    codes = tuple(str(f["properties"]["code"]) for f in features)
    totals = population[population["age_band"] == "total"].set_index("division_code")["population"]
    bands = population[population["division_code"].isin(codes)].pivot_table(
        index="division_code", columns="age_band", values="population", aggfunc="sum"
    )
    bands = bands.reindex(codes)
    streets = divisions[divisions["level"] == "street"]
    street_population = {c: int(totals[c]) for c in streets["code"]}
    for code in codes:  # the generator relies on these identities; population.csv documents them
        row = bands.loc[code]
        if row["0-14"] + row["15-59"] + row["60+"] != row["total"] or row["65+"] > row["60+"]:
            raise CoverageDemoError(
                f"population.csv: the 2020 age bands of {code} do not add up to its total"
            )
        own = streets.loc[streets["parent_code"] == code, "code"]
        if sum(street_population[c] for c in own) != row["total"]:
            raise CoverageDemoError(
                f"population.csv: the 2020 street totals of {code} do not add up to the district"
            )
    names = tuple(str(f["properties"]["name"]) for f in features)
    return _Geography(
        codes, names, tuple(polygons), tuple(outlines), divisions, street_population, bands.astype(np.int64)
    )


def _sample_in(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> Floats:
    """``n`` uniform points inside a polygon (rejection sampling from its bounding box)."""
    x0, y0, x1, y1 = poly.bounds
    ratio = max(poly.area / ((x1 - x0) * (y1 - y0)), 0.02)
    out = np.empty((0, 2))
    while len(out) < n:
        m = int((n - len(out)) / ratio * 1.3) + 16
        x, y = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        inside = shapely.contains_xy(poly, x, y)
        out = np.vstack([out, np.column_stack([x[inside], y[inside]])])
    return out[:n]


def _kmeans(points: Floats, k: int, rng: np.random.Generator, iterations: int = 12) -> Floats:
    """``k`` well-spread centres among ``points`` (Lloyd steps), each snapped onto a sample."""
    centres = points[rng.choice(len(points), size=k, replace=len(points) < k)].copy()
    for _ in range(iterations):
        label = cKDTree(centres).query(points)[1]
        count = np.bincount(label, minlength=k)
        sx = np.bincount(label, points[:, 0], minlength=k)
        sy = np.bincount(label, points[:, 1], minlength=k)
        ok = count > 0
        centres[ok] = np.column_stack([sx[ok] / count[ok], sy[ok] / count[ok]])
    return np.asarray(points[cKDTree(points).query(centres)[1]], dtype=np.float64)


def round_to_total(values: Floats, total: int) -> Ints:
    """Integers that are each the floor or ceiling of ``values`` and add up to ``total`` exactly
    (largest remainder, ties by position); ``values`` must add up to ``total`` up to rounding."""
    floors = np.floor(values + 1e-9)
    shortfall = int(total - floors.sum())
    if shortfall < 0 or shortfall > len(values):
        raise CoverageDemoError(f"cannot round {len(values)} values summing to {values.sum():.3f} to {total}")
    order = np.argsort(-(values - floors), kind="stable")
    floors[order[:shortfall]] += 1
    return floors.astype(np.int64)


def _split(total: int, weights: Floats) -> Ints:
    """``total`` split over ``weights`` with at least 1 each (when possible), exactly."""
    base = 1 if total >= len(weights) else 0
    rest = total - base * len(weights)
    return base + round_to_total(rest * weights / weights.sum(), rest)


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class _Places:
    street_code: npt.NDArray[np.str_]
    street_name: npt.NDArray[np.str_]
    street_district: Ints
    street_xy: Floats
    street_zone: npt.NDArray[np.str_]
    street_radius: Floats
    """Radius of the street's built-up core in metres."""
    street_population: Ints
    street_served: Floats
    """Facility provision multiplier: < 1 in fast-growing suburbs and some outer towns."""
    community_code: npt.NDArray[np.str_]
    community_name: npt.NDArray[np.str_]
    community_street: Ints
    community_xy: Floats
    community_village: Bools
    community_population: Ints


def _attractors(geo: _Geography, district: int) -> list[tuple[Floats, Floats, float, float]]:
    """Segments (start, end, plateau m, decay m) around which a district's 街道 cluster."""
    cx, cy = geo.project(np.array([CENTRE_LONLAT[0]]), np.array([CENTRE_LONLAT[1]]))
    centre = np.array([cx[0], cy[0]])
    ax, ay = geo.project(
        np.array([TIANFU_AXIS_END[0], AIRPORT_TOWN[0]]), np.array([TIANFU_AXIS_END[1], AIRPORT_TOWN[1]])
    )
    out = [
        (centre, centre, 11000.0, 4000.0),
        (centre, np.array([ax[0], ay[0]]), 3500.0, 3000.0),
        (np.array([ax[1], ay[1]]), np.array([ax[1], ay[1]]), 2500.0, 3000.0),
    ]
    seat = _seat(geo, district)
    if seat is not None:
        out.append((seat, seat, 1500.0, 2500.0))
    return out


def _seat(geo: _Geography, district: int) -> Floats | None:
    lonlat = SEATS.get(geo.codes[district])
    if lonlat is None:
        return None
    x, y = geo.project(np.array([lonlat[0]]), np.array([lonlat[1]]))
    poly = geo.polygons[district]
    if shapely.contains_xy(poly, x[0], y[0]):
        return np.array([x[0], y[0]])
    near = shapely.get_coordinates(shapely.shortest_line(poly.buffer(-500.0), shapely.points(x[0], y[0])))[0]
    return np.asarray(near, dtype=np.float64)


def _segment_distance(p: Floats, a: Floats, b: Floats) -> Floats:
    ab = b - a
    denom = float(ab @ ab)
    t = np.zeros(len(p)) if denom == 0 else np.clip((p - a) @ ab / denom, 0, 1)
    return np.asarray(np.hypot(*(p - (a + t[:, None] * ab)).T), dtype=np.float64)


def _urbanity(geo: _Geography, district: int, points: Floats) -> Floats:
    u = np.zeros(len(points))
    for a, b, plateau, decay in _attractors(geo, district):
        u = np.maximum(u, np.exp(-np.maximum(_segment_distance(points, a, b) - plateau, 0) / decay))
    return u


def _place_divisions(geo: _Geography, rng: np.random.Generator) -> _Places:
    div = geo.divisions
    streets = div[div["level"] == "street"].sort_values("code")
    communities = div[div["level"] == "community"].sort_values("code")
    s_code, s_name, s_dist, s_xy, s_zone, s_radius, s_served = [], [], [], [], [], [], []
    c_code, c_name, c_street, c_xy, c_village, c_pop = [], [], [], [], [], []
    s_pop: list[int] = []
    children_of = communities.groupby("parent_code")
    for d, code in enumerate(geo.codes):
        poly = geo.polygons[d]
        own = streets[streets["parent_code"] == code]
        n = len(own)
        samples = _sample_in(poly, 6000, rng)
        is_jd = own["name"].str.endswith("街道").to_numpy()
        if code in CENTRAL:
            centres, zones = _kmeans(samples, n, rng), np.array(["core"] * n)
        else:
            urban = is_jd & (np.cumsum(is_jd) <= (n if code in SUBURBS else 4))
            u = _urbanity(geo, d, samples)
            centres = np.empty((n, 2))
            pick = rng.choice(len(samples), size=3000, p=u**4 / (u**4).sum())
            centres[urban] = _kmeans(samples[pick], int(urban.sum()), rng)
            rural = samples[u < np.quantile(u, 0.7)]
            if (~urban).any():
                centres[~urban] = _kmeans(rural, int((~urban).sum()), rng)
            zones = np.where(urban, "urban", "town")
        owner = cKDTree(centres).query(samples)[1]
        cell_area = poly.area / len(samples)
        for k, (street_code, street_name) in enumerate(zip(own["code"], own["name"], strict=True)):
            kids = (
                children_of.get_group(street_code)
                if street_code in children_of.groups
                else communities.iloc[:0]
            )
            village = (kids["code"].str[9] == "2").to_numpy()
            weights = np.where(village, 1.0, 3.0) * rng.lognormal(0, 0.35, len(kids))
            total = geo.street_population[street_code]
            pops = _split(total, weights) if len(kids) else np.zeros(0, dtype=np.int64)
            urban_pop = float(pops[~village].sum()) if len(kids) else float(total)
            mine = samples[owner == k]
            dist = np.hypot(*(mine - centres[k]).T) if len(mine) else np.zeros(0)
            if zones[k] == "core":
                radius = math.sqrt(len(mine) * cell_area / math.pi)
            elif zones[k] == "urban":
                radius = float(np.clip(math.sqrt(urban_pop / (math.pi * 10e-3)), 600, 3500))
            else:
                radius = float(np.clip(math.sqrt(urban_pop / (math.pi * 8e-3)), 400, 1600))
            xy = np.empty((len(kids), 2))
            for is_village, pool in (
                (False, mine[dist <= radius] if zones[k] != "core" else mine),
                (True, mine[(dist > radius * 1.1) & (dist <= radius + 4500)]),
            ):
                sel = village == is_village
                if not sel.any():
                    continue
                if len(pool) == 0:
                    pool = mine if len(mine) else centres[k][None, :]
                wanted = int(sel.sum())
                if len(pool) > 2 * wanted:  # spread evenly over the street, no empty blocks
                    xy[sel] = _kmeans(pool, wanted, rng, iterations=6)
                else:
                    xy[sel] = pool[rng.integers(0, len(pool), wanted)]
            s_code.append(street_code)
            s_name.append(street_name)
            s_dist.append(d)
            s_xy.append(centres[k])
            s_zone.append(zones[k])
            s_radius.append(radius)
            s_pop.append(total)
            c_code += list(kids["code"])
            c_name += list(kids["name"])
            c_street += [len(s_code) - 1] * len(kids)
            c_xy.append(xy)
            c_village.append(village)
            c_pop.append(pops)
    zone_arr = np.array(s_zone)
    served = np.ones(len(zone_arr))
    # realistic gaps: fast-growing suburban streets and some outer towns lag behind on facilities
    suburb = np.array([geo.codes[d] in SUBURBS for d in s_dist]) & (zone_arr == "urban")
    served[suburb & (rng.random(len(zone_arr)) < 0.4)] = 0.45
    served[(zone_arr == "town") & (rng.random(len(zone_arr)) < 0.35)] = 0.3
    served[zone_arr == "core"] = 1.15
    s_served = list(served)
    return _Places(
        np.array(s_code),
        np.array(s_name),
        np.array(s_dist, dtype=np.int64),
        np.array(s_xy),
        zone_arr,
        np.array(s_radius),
        np.array(s_pop, dtype=np.int64),
        np.array(s_served),
        np.array(c_code),
        np.array(c_name),
        np.array(c_street, dtype=np.int64),
        np.vstack(c_xy),
        np.concatenate(c_village),
        np.concatenate(c_pop),
    )


# --------------------------------------------------------------------------- network

_CORE, _URBAN, _TOWN, _RURAL, _ROAD = 0, 1, 2, 3, 4
_CENTRAL_GRID: Final = {  # spacing (m) and angle (degrees) of the central districts' grids
    "510104": (125.0, 12.0),
    "510105": (130.0, -18.0),
    "510106": (140.0, 4.0),
    "510107": (130.0, 0.0),
    "510108": (145.0, 28.0),
}


@dataclass
class _Builder:
    """Nodes and edges of the network under construction, in pieces ("parts")."""

    x: list[Floats] = field(default_factory=list)
    y: list[Floats] = field(default_factory=list)
    part: list[Ints] = field(default_factory=list)
    spacing: list[Floats] = field(default_factory=list)
    reach: list[Floats] = field(default_factory=list)
    """How far a node may reach to stitch itself to another part (0: never)."""
    factor: list[Floats] = field(default_factory=list)
    """... and at most this many times the target part's spacing."""
    kind: list[Ints] = field(default_factory=list)
    u: list[Ints] = field(default_factory=list)
    v: list[Ints] = field(default_factory=list)
    road_class: list[Ints] = field(default_factory=list)
    oneway: list[Bools] = field(default_factory=list)
    n: int = 0
    parts: int = 0

    def nodes(self, x: Floats, y: Floats, *, spacing: float, reach: Floats, factor: float, kind: int) -> int:
        offset = self.n
        self.x.append(x)
        self.y.append(y)
        self.part.append(np.full(len(x), self.parts, dtype=np.int64))
        self.spacing.append(np.full(len(x), spacing))
        self.reach.append(np.broadcast_to(reach, len(x)).astype(np.float64))
        self.factor.append(np.full(len(x), factor))
        self.kind.append(np.full(len(x), kind, dtype=np.int64))
        self.n += len(x)
        self.parts += 1
        return offset

    def edges(self, u: Ints, v: Ints, road_class: Ints | int, oneway: Bools | bool = False) -> None:
        self.u.append(np.asarray(u, dtype=np.int64))
        self.v.append(np.asarray(v, dtype=np.int64))
        self.road_class.append(np.broadcast_to(np.asarray(road_class, dtype=np.int64), len(u)).copy())
        self.oneway.append(np.broadcast_to(np.asarray(oneway, dtype=np.bool_), len(u)).copy())

    def xy(self) -> Floats:
        return (
            np.column_stack([np.concatenate(self.x), np.concatenate(self.y)]) if self.x else np.empty((0, 2))
        )


def _code(name: str) -> int:
    return road_class_code(name)


def _subdivide(
    x: Floats, y: Floats, u: Ints, v: Ints, k: int, wiggle: float, rng: np.random.Generator
) -> tuple[Floats, Floats, Ints, Ints, Ints]:
    """Split every edge into ``k`` segments; new nodes go after the old ones. Returns the new
    coordinates, the new edges and the original edge of each new edge."""
    m = len(u)
    if k <= 1 or m == 0:
        return x, y, u, v, np.arange(m)
    t = np.arange(1, k) / k
    dx, dy = x[v] - x[u], y[v] - y[u]
    length = np.hypot(dx, dy) + 1e-9
    off = rng.normal(0, wiggle, (m, k - 1))
    mx = x[u][:, None] + dx[:, None] * t - dy[:, None] / length[:, None] * off
    my = y[u][:, None] + dy[:, None] * t + dx[:, None] / length[:, None] * off
    mid = len(x) + np.arange(m * (k - 1)).reshape(m, k - 1)
    chain = np.column_stack([u, mid, v])
    return (
        np.concatenate([x, mx.ravel()]),
        np.concatenate([y, my.ravel()]),
        chain[:, :-1].ravel(),
        chain[:, 1:].ravel(),
        np.repeat(np.arange(m), k),
    )


def _lattice(
    b: _Builder,
    rng: np.random.Generator,
    *,
    bbox: tuple[float, float, float, float],
    spacing: float,
    angle: float,
    keep: Callable[[Floats, Floats], Bools],
    kind: int,
    major: int = 5,
    major_class: str = "secondary",
    minor_class: str = "residential",
    drop: float = 0.05,
    jitter: float = 0.1,
    subdivide: int = 1,
    wiggle: float = 0.02,
    footways: float = 0.0,
    oneway: Callable[[Floats, Floats], Bools] | None = None,
) -> None:
    """A jittered square street grid over ``bbox`` where ``keep`` holds; crossing lines share nodes."""
    x0, y0, x1, y1 = bbox
    n = int(math.hypot(x1 - x0, y1 - y0) / 2 / spacing) + 2
    idx = np.arange(-n, n + 1)
    ii, jj = np.meshgrid(idx, idx, indexing="ij")
    ox, oy = rng.uniform(0, spacing, 2)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    lx, ly = ii * spacing + ox, jj * spacing + oy
    gx = (x0 + x1) / 2 + ca * lx - sa * ly + rng.normal(0, jitter * spacing, ii.shape)
    gy = (y0 + y1) / 2 + sa * lx + ca * ly + rng.normal(0, jitter * spacing, ii.shape)
    ok = (gx >= x0) & (gx <= x1) & (gy >= y0) & (gy <= y1)
    where = np.flatnonzero(ok)
    if len(where):
        ok.flat[where] = keep(gx.flat[where], gy.flat[where])
    count = int(ok.sum())
    if count == 0:
        return
    ids = np.full(ii.shape, -1, dtype=np.int64)
    ids[ok] = np.arange(count)
    line_draw = rng.random((2, 2 * n + 1))
    us, vs, lines, dirs = [], [], [], []
    for direction, (a, c, line) in enumerate(
        ((ids[:-1, :], ids[1:, :], jj[:-1, :]), (ids[:, :-1], ids[:, 1:], ii[:, :-1]))
    ):
        has = (a >= 0) & (c >= 0)
        us.append(a[has])
        vs.append(c[has])
        lines.append(line[has])
        dirs.append(np.full(int(has.sum()), direction))
    u, v, line, dirn = (np.concatenate(z) for z in (us, vs, lines, dirs))
    draw = line_draw[dirn, line + n]
    is_major = line % major == 0
    cls = np.where(is_major, _code(major_class), _code(minor_class))
    cls = np.where(~is_major & (line % major == major // 2) & (draw < 0.5), _code("tertiary"), cls)
    kept = is_major | (rng.random(len(u)) >= drop)
    u, v, cls, line, draw, is_major = u[kept], v[kept], cls[kept], line[kept], draw[kept], is_major[kept]
    px, py = gx[ok], gy[ok]
    one = np.zeros(len(u), dtype=np.bool_)
    if oneway is not None:
        one = ~is_major & (draw > 0.82) & oneway((px[u] + px[v]) / 2, (py[u] + py[v]) / 2)
        flip = one & (line % 2 == 1)
        u, v = np.where(flip, v, u), np.where(flip, u, v)
    degree = np.bincount(np.concatenate([u, v]), minlength=count)
    if footways > 0:  # a path through some blocks (compounds, pocket parks)
        a, c = ids[:-1, :-1], ids[1:, 1:]
        corner = (a >= 0) & (c >= 0) & (ids[1:, :-1] >= 0) & (ids[:-1, 1:] >= 0)
        corner &= rng.random(corner.shape) < footways
        fu, fv = a[corner], c[corner]
    px, py, u, v, parent = _subdivide(px, py, u, v, subdivide, wiggle * spacing, rng)
    reach = np.zeros(len(px))
    reach[:count] = np.where(degree < 4, spacing, 0.0)
    offset = b.nodes(px, py, spacing=spacing, reach=reach, factor=3.0, kind=kind)
    b.edges(u + offset, v + offset, cls[parent], one[parent])
    if footways > 0:
        b.edges(fu + offset, fv + offset, _code("footway"))


def _polyline(
    b: _Builder,
    points: Floats,
    rng: np.random.Generator,
    *,
    seg: float,
    road_class: str,
    closed: bool = False,
    wiggle: float = 0.0,
) -> Ints:
    """A road through ``points`` as straight segments of about ``seg`` metres; returns its nodes."""
    if closed:
        points = np.vstack([points, points[:1]])
    step = np.hypot(*np.diff(points, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(step)])
    total = float(along[-1])
    count = max(int(total / seg), 1)
    at = np.linspace(0, total, count + 1)
    if closed:
        at = at[:-1]
    px = np.interp(at, along, points[:, 0]) + rng.normal(0, wiggle, len(at))
    py = np.interp(at, along, points[:, 1]) + rng.normal(0, wiggle, len(at))
    offset = b.nodes(px, py, spacing=seg, reach=np.full(len(px), 150.0), factor=0.35, kind=_ROAD)
    u = np.arange(len(px) - (0 if closed else 1))
    b.edges(offset + u, offset + (u + 1) % len(px), _code(road_class))
    return offset + np.arange(len(px))


def _bend(a: Floats, c: Floats, rng: np.random.Generator, amount: float = 0.04) -> Floats:
    """A gently curving line from ``a`` to ``c`` (for roads between places)."""
    t = np.linspace(0, 1, 9)[:, None]
    d = c - a
    normal = np.array([-d[1], d[0]])
    shape_ = np.sin(np.pi * t) * rng.normal(0, amount) + np.sin(2 * np.pi * t) * rng.normal(0, amount / 2)
    return np.asarray(a + t * d + shape_ * normal, dtype=np.float64)


def _within_discs(x: Floats, y: Floats, centres: Floats, radii: Floats) -> Bools:
    if len(centres) == 0:
        return np.zeros(len(x), dtype=np.bool_)
    k = min(4, len(centres))
    dist, idx = cKDTree(centres).query(np.column_stack([x, y]), k=k)
    dist, idx = dist.reshape(len(x), k), idx.reshape(len(x), k)
    return np.asarray((dist <= radii[idx]).any(axis=1), dtype=np.bool_)


def _in_discs(
    centres: Floats, radii: Floats, also: Callable[[Floats, Floats], Bools] | None = None
) -> Callable[[Floats, Floats], Bools]:
    def keep(x: Floats, y: Floats) -> Bools:
        ok = _within_discs(x, y, centres, radii)
        return ok & also(x, y) if also is not None else ok

    return keep


def _build_network(
    geo: _Geography, places: _Places, scale: float, rng: np.random.Generator
) -> tuple[Network, Ints, Ints]:
    """The network, each node's district (-1 for the few nodes in the seams between districts)
    and each node's kind (core/urban/town/rural/road)."""
    b = _Builder()
    density = 1.0 / math.sqrt(scale)
    cx, cy = geo.project(np.array([CENTRE_LONLAT[0]]), np.array([CENTRE_LONLAT[1]]))
    centre = np.array([cx[0], cy[0]])

    def inside(
        d: int, extra: Callable[[Floats, Floats], Bools] | None = None
    ) -> Callable[[Floats, Floats], Bools]:
        def keep(x: Floats, y: Floats) -> Bools:
            ok = shapely.contains_xy(geo.polygons[d], x, y)
            if extra is not None and ok.any():
                ok[ok] = extra(x[ok], y[ok])
            return np.asarray(ok, dtype=np.bool_)

        return keep

    def core_oneway(x: Floats, y: Floats) -> Bools:
        return np.asarray(np.hypot(x - centre[0], y - centre[1]) < RING_RADII_M[2], dtype=np.bool_)

    # phase 1: the central districts whole, the 街道 of the others around their centres
    for d, code in enumerate(geo.codes):
        if code in CENTRAL:
            spacing, angle = _CENTRAL_GRID[code]
            _lattice(
                b,
                rng,
                bbox=geo.polygons[d].bounds,
                spacing=spacing * density,
                angle=angle,
                keep=inside(d),
                kind=_CORE,
                subdivide=2,
                footways=0.12,
                oneway=core_oneway,
            )
            continue
        mine = (places.street_district == d) & (places.street_zone == "urban")
        if not mine.any():
            continue
        discs, radii = places.street_xy[mine], places.street_radius[mine] * 1.15
        box = (*(discs - radii[:, None]).min(axis=0), *(discs + radii[:, None]).max(axis=0))
        spacing = rng.uniform(200, 280) if code in SUBURBS else rng.uniform(180, 220)
        _lattice(
            b,
            rng,
            bbox=box,
            spacing=spacing * density,
            angle=rng.uniform(-30, 30),
            keep=inside(d, _in_discs(discs, radii)),
            kind=_URBAN,
            subdivide=2,
            footways=0.05,
        )
    built = cKDTree(b.xy())

    def away(tree: cKDTree, gap: float) -> Callable[[Floats, Floats], Bools]:
        return lambda x, y: np.asarray(tree.query(np.column_stack([x, y]))[0] > gap, dtype=np.bool_)

    # phase 2: small dense grids around the towns
    for s in np.flatnonzero(places.street_zone == "town"):
        d, (tx, ty), r = int(places.street_district[s]), places.street_xy[s], places.street_radius[s] * 1.15
        spacing = rng.uniform(150, 250) * density
        clear = away(built, 0.5 * spacing)
        _lattice(
            b,
            rng,
            bbox=(tx - r, ty - r, tx + r, ty + r),
            spacing=spacing,
            angle=rng.uniform(-45, 45),
            keep=inside(d, _in_discs(np.array([[tx, ty]]), np.array([r]), clear)),
            kind=_TOWN,
            major=4,
            major_class="tertiary",
            drop=0.06,
        )
    # phase 3: winding country roads everywhere else
    built = cKDTree(b.xy())
    rural = 1000.0 * density
    x0, y0 = np.min([p.bounds[:2] for p in geo.polygons], axis=0)
    x1, y1 = np.max([p.bounds[2:] for p in geo.polygons], axis=0)
    clear = away(built, 0.6 * rural)
    _lattice(
        b,
        rng,
        bbox=(x0, y0, x1, y1),
        spacing=rural,
        angle=7.0,
        keep=lambda x, y: (geo.district_of(x, y) >= 0) & clear(x, y),
        kind=_RURAL,
        major=3,
        major_class="unclassified",
        minor_class="track",
        drop=0.22,
        jitter=0.18,
        subdivide=4,
        wiggle=0.07,
    )
    # ring roads (primary; the 3rd ring and 绕城 get trunk chords between interchanges)
    seg = 90.0 * density
    for ring, radius in enumerate(RING_RADII_M):
        phi = np.linspace(0, 2 * np.pi, 721)[:-1]
        a1, a2, p1, p2 = rng.normal(0, 0.05), rng.normal(0, 0.025), rng.uniform(0, 6.3), rng.uniform(0, 6.3)
        rr = radius * (1 + a1 * np.sin(2 * phi + p1) + a2 * np.sin(3 * phi + p2))
        ids = _polyline(
            b,
            centre + np.column_stack([rr * np.cos(phi), rr * np.sin(phi)]),
            rng,
            seg=seg,
            road_class="primary",
            closed=True,
            wiggle=0.05 * seg,
        )
        if ring >= 2:
            every = max(int(1500 / seg), 2)
            chord = ids[::every]
            b.edges(chord, np.roll(chord, -1), _code("trunk"))
    # radial avenues to the district seats and the southern axis
    ends = [SEATS[c] for c in SEATS if c not in ("510129", "510131")] + [TIANFU_AXIS_END]
    ex, ey = geo.project(np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
    for end in np.column_stack([ex, ey]):
        direction = (end - centre) / np.linalg.norm(end - centre)
        start = centre + direction * RING_RADII_M[0]
        _polyline(b, _bend(start, end, rng, 0.03), rng, seg=120.0 * density, road_class="primary", wiggle=4.0)
    # roads linking the towns and street centres outside the core: a spanning tree plus detours
    outer = np.flatnonzero(places.street_zone != "core")
    pts = places.street_xy[outer]
    dist = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    tree = minimum_spanning_tree(dist).tocoo()
    second = np.argsort(dist, axis=1)[:, 2]
    pairs = np.unique(
        np.sort(
            np.vstack(
                [np.column_stack([tree.row, tree.col]), np.column_stack([np.arange(len(pts)), second])]
            ),
            axis=1,
        ),
        axis=0,
    )
    for i, j in pairs:
        length = dist[i, j]
        busy = (
            places.street_zone[outer[i]] == "urban"
            or places.street_zone[outer[j]] == "urban"
            or length > 9000
        )
        _polyline(
            b,
            _bend(pts[i], pts[j], rng),
            rng,
            seg=200.0 * density,
            road_class="secondary" if busy else "tertiary",
            wiggle=6.0,
        )
    return _assemble(geo, b)


def _assemble(geo: _Geography, b: _Builder) -> tuple[Network, Ints, Ints]:
    """Clip to the districts, stitch the parts together, drop leftovers and connect the pieces."""
    xy = b.xy()
    part, kind = np.concatenate(b.part), np.concatenate(b.kind)
    spacing, reach, factor = np.concatenate(b.spacing), np.concatenate(b.reach), np.concatenate(b.factor)
    u, v, cls = np.concatenate(b.u), np.concatenate(b.v), np.concatenate(b.road_class)
    one = np.concatenate(b.oneway)
    district = geo.district_of(xy[:, 0], xy[:, 1])
    seam = np.flatnonzero(district < 0)
    inside = district >= 0
    inside[seam] = geo.district_of(xy[seam, 0], xy[seam, 1], shrunk=False) >= 0  # kept, not for siting
    keep = inside[u] & inside[v]
    u, v, cls, one = u[keep], v[keep], cls[keep], one[keep]
    index = np.full(len(xy), -1, dtype=np.int64)
    index[inside] = np.arange(int(inside.sum()))
    xy, part, spacing, reach = xy[inside], part[inside], spacing[inside], reach[inside]
    factor, kind, district = factor[inside], kind[inside], district[inside]
    u, v = index[u], index[v]
    # stitch: a node at the edge of its part reaches to the nearest node of another part
    tree = cKDTree(xy)
    cand = np.flatnonzero(reach > 0)
    near_d, near_i = tree.query(xy[cand], k=12)
    ok = (part[near_i] != part[cand][:, None]) & (
        near_d <= np.minimum(reach[cand][:, None], factor[cand][:, None] * spacing[near_i])
    )
    has = ok.any(axis=1)
    first = ok.argmax(axis=1)[has]
    su, sv, sd = cand[has], near_i[has, first], near_d[has, first]
    order = np.lexsort((sd, sv))
    su, sv = su[order], sv[order]
    once = np.concatenate([[True], sv[1:] != sv[:-1]])
    su, sv = su[once], sv[once]
    stitch_class = np.where(kind[sv] == _RURAL, _code("track"), _code("residential"))
    u, v = np.concatenate([u, su]), np.concatenate([v, sv])
    cls, one = np.concatenate([cls, stitch_class]), np.concatenate([one, np.zeros(len(su), dtype=np.bool_)])
    # no loops, no duplicates, no zero lengths
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    _, first_seen = np.unique(lo * len(xy) + hi, return_index=True)
    keep = np.zeros(len(u), dtype=np.bool_)
    keep[first_seen] = True
    length = np.hypot(*(xy[u] - xy[v]).T)
    keep &= (u != v) & (length > 0.5)
    u, v, cls, one, length = u[keep], v[keep], cls[keep], one[keep], length[keep]
    # join each smaller piece to the largest by its closest node pair (if within 2 km)
    count, label = connected_components(
        coo_array((np.ones(len(u)), (u, v)), shape=(len(xy), len(xy))), directed=False
    )
    if count > 1:
        sizes = np.bincount(label)
        main = int(sizes.argmax())
        main_nodes = np.flatnonzero(label == main)
        used = np.zeros(len(xy), dtype=np.bool_)
        used[u] = used[v] = True
        rest = np.flatnonzero((label != main) & used)
        gap, nearest = cKDTree(xy[main_nodes]).query(xy[rest])
        order = np.lexsort((gap, label[rest]))
        rest, gap, nearest = rest[order], gap[order], nearest[order]
        best = np.concatenate([[True], label[rest][1:] != label[rest][:-1]]) & (gap <= 2000)
        cu, cv = rest[best], main_nodes[nearest[best]]
        u, v = np.concatenate([u, cu]), np.concatenate([v, cv])
        cls = np.concatenate([cls, np.full(len(cu), _code("unclassified"))])
        one = np.concatenate([one, np.zeros(len(cu), dtype=np.bool_)])
        length = np.concatenate([length, np.maximum(np.hypot(*(xy[cu] - xy[cv]).T), 0.5)])
    # drop nodes no edge uses
    used = np.zeros(len(xy), dtype=np.bool_)
    used[u] = used[v] = True
    index = np.full(len(xy), -1, dtype=np.int64)
    index[used] = np.arange(int(used.sum()))
    network = Network(
        x=xy[used, 0].copy(),
        y=xy[used, 1].copy(),
        edge_u=index[u].astype(np.int32),
        edge_v=index[v].astype(np.int32),
        length=length,
        road_class=cls.astype(np.int8),
        oneway=one,
        crs=CRS,
        name="chengdu-demo",
        source="planwatch synthetic network (模拟路网)",
        simulated=True,
    )
    return network, district[used], kind[used]


# --------------------------------------------------------------------------- population


def round_by_group(values: Floats, group: Ints, totals: Ints) -> Ints:
    """``round_to_total`` within each group: group ``g``'s integers add up to ``totals[g]``."""
    floors = np.floor(values + 1e-9)
    shortfall = totals - np.bincount(group, floors, minlength=len(totals)).round().astype(np.int64)
    sizes = np.bincount(group, minlength=len(totals))
    if (shortfall < 0).any() or (shortfall > sizes).any():
        raise CoverageDemoError("internal: values do not add up to the group totals they are rounded to")
    order = np.lexsort((-(values - floors), group))
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(values)) - start[group[order]]
    floors[order[rank < shortfall[group[order]]]] += 1
    return floors.astype(np.int64)


@dataclass(frozen=True)
class _NodeIndex:
    """Per district, a KD-tree of the network nodes strictly inside it."""

    xy: Floats
    nodes: tuple[Ints, ...]
    trees: tuple[cKDTree, ...]

    @classmethod
    def build(cls, network: Network, district: Ints, count: int) -> _NodeIndex:
        xy = np.column_stack([network.x, network.y])
        nodes = tuple(np.flatnonzero(district == d) for d in range(count))
        return cls(xy, nodes, tuple(cKDTree(xy[n]) for n in nodes))

    def settle(
        self,
        geo: _Geography,
        xy: Floats,
        district: Ints,
        rng: np.random.Generator,
        *,
        gap: float = 60.0,
        spread: float = 40.0,
    ) -> tuple[Floats, Ints]:
        """Move points more than ``gap`` m from the network to within ``spread`` m of their nearest
        node in the same district, keeping every point inside its district; also the nearest node."""
        out, node = xy.copy(), np.zeros(len(xy), dtype=np.int64)
        for d, tree in enumerate(self.trees):
            sel = np.flatnonzero(district == d)
            if len(sel) == 0:
                continue
            dist, k = tree.query(xy[sel])
            nearest = self.nodes[d][k]
            r, a = spread * np.sqrt(rng.random(len(sel))), rng.uniform(0, 2 * np.pi, len(sel))
            moved = self.xy[nearest] + np.column_stack([r * np.cos(a), r * np.sin(a)])
            new = np.where((dist > gap)[:, None], moved, xy[sel])
            outside = ~shapely.contains_xy(geo.polygons[d], new[:, 0], new[:, 1])
            new[outside] = self.xy[nearest[outside]]
            out[sel], node[sel] = new, nearest
        return out, node


def _build_origins(
    geo: _Geography, places: _Places, index: _NodeIndex, scale: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, Floats, Ints, Ints]:
    """Population points, plus their coordinates in metres, community index and nearest node."""
    pop = places.community_population
    count = np.minimum(np.maximum(np.rint(scale * pop / PEOPLE_PER_POINT), 1), np.maximum(pop, 1)).astype(
        np.int64
    )
    comm = np.repeat(np.arange(len(pop)), count)
    street = places.community_street[comm]
    district = places.street_district[street]
    zone = places.street_zone[street]
    village = places.community_village[comm]
    sigma = np.where(village, 500.0, np.select([zone == "core", zone == "urban"], [220.0, 260.0], 160.0))
    xy = places.community_xy[comm] + rng.normal(0, 1, (len(comm), 2)) * sigma[:, None]
    xy, node = index.settle(geo, xy, district, rng)
    weights = rng.lognormal(0, 0.45, len(comm))
    base = np.where(pop[comm] >= count[comm], 1, 0)
    rest = pop - np.bincount(comm, base, minlength=len(pop)).astype(np.int64)
    share = weights / np.bincount(comm, weights, minlength=len(pop))[comm]
    people = base + round_by_group(rest[comm] * share, comm, rest)
    # age structure by place, then rescaled so every district's bands are exactly its 2020 bands
    cx, cy = geo.project(np.array([CENTRE_LONLAT[0]]), np.array([CENTRE_LONLAT[1]]))
    old_core = np.hypot(xy[:, 0] - cx[0], xy[:, 1] - cy[0]) < RING_RADII_M[1]
    older = np.select([village, old_core, zone == "urban", zone == "town"], [1.3, 1.2, 0.8, 1.1], 1.0)
    younger = np.select([village, old_core, zone == "urban"], [0.95, 0.85, 1.15], 1.0)
    f_old = np.clip(older * rng.lognormal(0, 0.15, len(comm)), 0.6, 1.8)
    f_young = np.clip(younger * rng.lognormal(0, 0.12, len(comm)), 0.6, 1.8)
    f_65 = np.clip(rng.lognormal(0, 0.04, len(comm)), 0.9, 1.1)
    bands = geo.bands
    n_d = len(geo.codes)

    def fit(weight: Floats, band: str) -> Ints:
        totals = bands[band].to_numpy(dtype=np.int64)
        scale_d = totals / np.bincount(district, weight, minlength=n_d)
        return round_by_group(weight * scale_d[district], district, totals)

    age_60 = fit(people * f_old, "60+")
    age_0 = fit((people - age_60) * f_young, "0-14")
    age_15 = people - age_60 - age_0
    age_65 = fit(age_60 * f_65, "65+")
    if (age_15 < 0).any() or (age_65 > age_60).any():
        raise CoverageDemoError("internal: an age band came out negative; report this with the seed")
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    frame = pd.DataFrame(
        {
            "id": [f"o{i:06d}" for i in range(1, len(comm) + 1)],
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "division_code": places.community_code[comm],
            "population": people,
            "age_0_14": age_0,
            "age_15_59": age_15,
            "age_60_plus": age_60,
            "age_65_plus": age_65,
        }
    )
    return frame, xy, comm, node


# --------------------------------------------------------------------------- facilities


@dataclass(frozen=True)
class _People:
    """Origins in generation order (grouped by community, street and district) for picking."""

    xy: Floats
    comm: Ints
    cumulative: Floats
    start: Ints
    """First origin of each community; communities of a street and of a district are contiguous."""

    def pick(self, first: Ints, last: Ints, rng: np.random.Generator) -> Ints:
        """One origin in each range ``[first, last)``, weighted by population."""
        low = np.where(first > 0, self.cumulative[np.maximum(first - 1, 0)], 0.0)
        high = self.cumulative[last - 1]
        target = low + rng.random(len(first)) * (high - low)
        return np.minimum(np.searchsorted(self.cumulative, target, side="right"), last - 1)


def _build_facilities(
    geo: _Geography,
    places: _Places,
    network: Network,
    node_kind: Ints,
    index: _NodeIndex,
    people: _People,
    population: Ints,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n_comm, n_street, n_dist = len(places.community_code), len(places.street_code), len(geo.codes)
    comm_street = places.community_street
    comm_district = places.street_district[comm_street]
    comm_rural = places.community_village | (places.street_zone[comm_street] == "town")
    street_rural = places.street_zone == "town"
    outer = [d for d, c in enumerate(geo.codes) if c not in CENTRAL]
    scarce = np.ones(n_dist)
    scarce[rng.choice(outer, size=3, replace=False)] = 0.3  # children's facilities are scarce here
    comm_bounds = np.append(people.start, len(people.xy))
    street_first = np.searchsorted(comm_street, np.arange(n_street))
    street_bounds = np.append(comm_bounds[street_first], len(people.xy))
    dist_first = np.searchsorted(places.street_district, np.arange(n_dist))
    dist_bounds = np.append(street_bounds[dist_first], len(people.xy))
    comm_pop = np.bincount(people.comm, population, minlength=n_comm)
    rows: list[pd.DataFrame] = []
    origin_trees = [cKDTree(people.xy[dist_bounds[d] : dist_bounds[d + 1]]) for d in range(n_dist)]

    def community_of(xy: Floats, district: Ints) -> npt.NDArray[np.str_]:
        out = np.empty(len(xy), dtype=object)
        for d in range(n_dist):
            sel = np.flatnonzero(district == d)
            if len(sel):
                out[sel] = places.community_code[
                    people.comm[dist_bounds[d] + origin_trees[d].query(xy[sel])[1]]
                ]
        return out.astype(str)

    for code, spec in FACILITY_TYPES.items():
        child = scarce if spec.children else np.ones(n_dist)
        named: tuple[npt.NDArray[np.str_], Ints] | None = None
        if spec.level in ("community", "population"):
            mod = (
                places.street_served[comm_street]
                * np.where(comm_rural, spec.rural, 1.0)
                * child[comm_district]
            )
            if spec.level == "community":
                n = (rng.random(n_comm) < np.clip(spec.rate * mod, 0, 0.98)).astype(np.int64)
            else:
                n = rng.poisson(spec.rate * comm_pop / 1e4 * mod)
            unit = np.repeat(np.arange(n_comm), n)
            picked = people.pick(comm_bounds[unit], comm_bounds[unit + 1], rng)
            district = comm_district[unit]
            if spec.level == "community":
                named = (places.community_name[unit], unit)
        elif spec.level == "street":
            mod = (
                places.street_served * np.where(street_rural, spec.rural, 1.0) * child[places.street_district]
            )
            n = (rng.random(n_street) < np.clip(spec.rate * mod, 0, 0.98)).astype(np.int64)
            n += (n > 0) & (places.street_population > 120_000) & (rng.random(n_street) < 0.5)
            unit = np.repeat(np.arange(n_street), n)
            picked = people.pick(street_bounds[unit], street_bounds[unit + 1], rng)
            district = places.street_district[unit]
            named = (places.street_name[unit], unit)
        elif spec.level == "district":
            central = np.array([c in CENTRAL for c in geo.codes])
            n = np.maximum(rng.poisson(spec.rate, n_dist), 1)
            if code == "country_park":
                n[central] = 0
            unit = np.repeat(np.arange(n_dist), n)
            picked = people.pick(dist_bounds[unit], dist_bounds[unit + 1], rng)
            district = unit
        else:
            rows.append(_bus_stops(geo, places, network, node_kind, index, spec, community_of, rng))
            continue
        xy = people.xy[picked] + rng.normal(0, 120.0, (len(picked), 2))
        if code == "country_park":  # out in the countryside: a rural node of the district
            for d in range(n_dist):
                sel = np.flatnonzero(district == d)
                pool = index.nodes[d][node_kind[index.nodes[d]] == _RURAL]
                if len(sel) and len(pool):
                    xy[sel] = index.xy[rng.choice(pool, len(sel))]
        xy, _ = index.settle(geo, xy, district, rng, gap=40.0, spread=30.0)
        division = (
            places.community_code[people.comm[picked]]
            if spec.level in ("community", "population")
            else community_of(xy, district)
        )
        rural = comm_rural[people.comm[picked]]
        rows.append(_facility_rows(geo, code, spec, xy, district, division, named, rural, rng))
    frame = pd.concat(rows, ignore_index=True)
    frame.insert(0, "id", [f"f{i:06d}" for i in range(1, len(frame) + 1)])
    return frame


_RURAL_NAMES: Final = {
    "health_center": "卫生院",
    "health_station": "卫生室",
    "community_service_center": "便民服务中心",
}


def _facility_rows(
    geo: _Geography,
    code: str,
    spec: FacilityType,
    xy: Floats,
    district: Ints,
    division: npt.NDArray[np.str_],
    unit: tuple[npt.NDArray[np.str_], Ints] | None,
    rural: Bools,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Rows of one facility type, named after their street or community (``unit``: its names and
    indices) or numbered within their district."""
    order = np.lexsort((division, district))
    xy, district, division, rural = xy[order], district[order], division[order], rural[order]
    label = np.where(rural, _RURAL_NAMES.get(code, spec.name), spec.name)
    if unit is not None:
        seen: dict[int, int] = {}
        names = []
        for name, key, kind in zip(unit[0][order], unit[1][order], label, strict=True):
            seen[key] = seen.get(key, 0) + 1
            names.append(f"{name}{kind}（模拟）" if seen[key] == 1 else f"{name}第{seen[key]}{kind}（模拟）")
    else:
        rank = np.arange(len(district)) - np.searchsorted(district, district)
        names = [
            f"{geo.names[d]}第{r + 1}{kind}（模拟）" for d, r, kind in zip(district, rank, label, strict=True)
        ]
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    capacity = pd.array(
        spec.capacity(rng, len(xy)).astype(np.int64) if spec.capacity else [pd.NA] * len(xy), dtype="Int64"
    )
    return pd.DataFrame(
        {
            "type": code,
            "name": names,
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "capacity": capacity,
            "division_code": division,
        }
    )


def _bus_stops(
    geo: _Geography,
    places: _Places,
    network: Network,
    node_kind: Ints,
    index: _NodeIndex,
    spec: FacilityType,
    community_of: Callable[[Floats, Ints], npt.NDArray[np.str_]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Stops along main roads: about every 450 m in the city, sparser in towns and villages."""
    u, v = network.edge_u, network.edge_v
    main = np.isin(
        network.road_class, [_code(c) for c in ("primary", "secondary", "tertiary", "unclassified")]
    )
    kind = np.minimum(node_kind[u], node_kind[v])
    mod = np.select([kind <= _URBAN, kind == _TOWN], [1.0, spec.rural * 1.5], spec.rural * 0.15)
    chosen = np.flatnonzero(main & (rng.random(len(u)) < network.length / 1000.0 * spec.rate * mod))
    x = (network.x[u[chosen]] + network.x[v[chosen]]) / 2
    y = (network.y[u[chosen]] + network.y[v[chosen]]) / 2
    xy = np.column_stack([x, y])
    district = geo.district_of(x, y)
    keep = district >= 0
    xy, district = xy[keep], district[keep]
    xy, _ = index.settle(geo, xy, district, rng, gap=1e9, spread=15.0)
    division = community_of(xy, district)
    # under-served towns have fewer stops too
    street_of = {code: s for s, code in enumerate(places.street_code)}
    served = places.street_served[[street_of[c[:9]] for c in division]]
    keep = rng.random(len(xy)) < np.minimum(served, 1.0)
    return _facility_rows(
        geo,
        "bus_stop",
        spec,
        xy[keep],
        district[keep],
        division[keep],
        None,
        np.zeros(int(keep.sum()), dtype=np.bool_),
        rng,
    )


def _build_candidates(
    geo: _Geography,
    network: Network,
    node_district: Ints,
    node_kind: Ints,
    people_xy: Floats,
    population: Ints,
    community_of: Callable[[Floats, Ints], npt.NDArray[np.str_]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Candidate sites: network nodes in populated places (fire stations on main roads)."""
    cell = 500.0
    x0, y0 = network.x.min(), network.y.min()
    gx = ((people_xy[:, 0] - x0) // cell).astype(np.int64)
    gy = ((people_xy[:, 1] - y0) // cell).astype(np.int64)
    shape_ = (int((network.x.max() - x0) // cell) + 1, int((network.y.max() - y0) // cell) + 1)
    grid = np.zeros(shape_)
    np.add.at(grid, (np.clip(gx, 0, shape_[0] - 1), np.clip(gy, 0, shape_[1] - 1)), population)
    nx = ((network.x - x0) // cell).astype(np.int64)
    ny = ((network.y - y0) // cell).astype(np.int64)
    density = grid[nx, ny]
    on_main = np.zeros(network.node_count, dtype=np.bool_)
    main = np.isin(network.road_class, [_code(c) for c in ("primary", "secondary", "tertiary")])
    on_main[network.edge_u[main]] = on_main[network.edge_v[main]] = True
    usable = (node_district >= 0) & (density > 0) & (node_kind != _ROAD)
    taken = np.zeros(network.node_count, dtype=np.bool_)
    picks, types = [], []
    for code, count in CANDIDATE_MIX.items():
        weight = density ** (0.5 if code == "shelter" else 1.0)
        # fire stations need a main road (ring and radial nodes included); the rest a street node
        ok = (
            (node_district >= 0) & (density > 0) & on_main & ~taken
            if code == "fire_station"
            else usable & ~taken
        )
        pool = np.flatnonzero(ok)
        k = min(count, len(pool))
        chosen = (
            rng.choice(pool, size=k, replace=False, p=weight[pool] / weight[pool].sum()) if k else pool[:0]
        )
        taken[chosen] = True
        picks.append(chosen)
        types += [code] * k
    nodes = np.concatenate(picks)
    xy = np.column_stack([network.x[nodes], network.y[nodes]])
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return pd.DataFrame(
        {
            "id": [f"c{i:05d}" for i in range(1, len(nodes) + 1)],
            "type": types,
            "lon": np.round(lon, 6),
            "lat": np.round(lat, 6),
            "division_code": community_of(xy, node_district[nodes]),
        }
    )


# --------------------------------------------------------------------------- public API


def build_coverage_demo(*, seed: int = 14, scale: float = 1.0) -> CoverageDemo:
    """Build the simulated Chengdu network, population points, facilities and candidate sites.

    Parameters
    ----------
    seed : the same seed gives the same demo, byte for byte
    scale : density of the network and of the population points (1.0: about 210,000 nodes and
        60,000 points; 0.1 for fast tests). Totals never depend on it.

    Returns
    -------
    CoverageDemo
        Everything labelled simulated (模拟数据); the network has ``simulated=True``.
    """
    if not 0.01 <= scale <= 4.0:
        raise CoverageDemoError(
            f"scale {scale} is out of range; use a value from 0.01 to 4 (1.0 is the full demo)"
        )
    started = time.perf_counter()
    geo = _geography()
    seeds = np.random.SeedSequence([seed, 20201101]).spawn(5)
    places = _place_divisions(geo, np.random.default_rng(seeds[0]))
    network, node_district, node_kind = _build_network(geo, places, scale, np.random.default_rng(seeds[1]))
    index = _NodeIndex.build(network, node_district, len(geo.codes))
    origins, xy, comm, _ = _build_origins(geo, places, index, scale, np.random.default_rng(seeds[2]))
    population = origins["population"].to_numpy(dtype=np.int64)
    start = np.searchsorted(comm, np.arange(len(places.community_code)))
    people = _People(xy, comm, np.cumsum(population, dtype=np.float64), start)
    facilities = _build_facilities(
        geo, places, network, node_kind, index, people, population, np.random.default_rng(seeds[3])
    )
    district = places.street_district[places.community_street[comm]]
    trees = [cKDTree(xy[district == d]) for d in range(len(geo.codes))]
    codes = [places.community_code[comm[district == d]] for d in range(len(geo.codes))]

    def community_of(points: Floats, where: Ints) -> npt.NDArray[np.str_]:
        out = np.empty(len(points), dtype=object)
        for d, tree in enumerate(trees):
            sel = np.flatnonzero(where == d)
            if len(sel):
                out[sel] = codes[d][tree.query(points[sel])[1]]
        return out.astype(str)

    candidates = _build_candidates(
        geo, network, node_district, node_kind, xy, population, community_of, np.random.default_rng(seeds[4])
    )
    return CoverageDemo(network, origins, facilities, candidates, seed, scale, time.perf_counter() - started)


_NOTE: Final = """# 模拟数据 / SIMULATED DATA

本目录中的路网、人口点、设施和候选点均为**模拟数据**，仅供生活圈覆盖分析演示使用，不代表成都市的真实情况。
只有区（市）县边界、行政区划和 2020 年第七次人口普查的区（市）县常住人口是真实数据；街道人口和年龄结构也是模拟的（见 population.csv）。

- `network.npz`：合成路网（投影 EPSG:32648）。以天府广场为中心的密集网格（中心城区街道间距约 120–150 m，近郊 200–300 m，乡镇 150–250 m），一至四环（绕城）环路、放射干道、乡镇连接道路和乡村道路，按真实区界裁剪。
- `origins.csv`：人口点。每个街道（乡镇）的人口点之和等于其 2020 年人口；各区（市）县的年龄段之和等于 population.csv 中的数值。
- `facilities.csv`：现状设施（名称带“（模拟）”），有意留出服务缺口：部分快速增长的近郊街道、部分远郊乡镇设施不足，三个区（市）县儿童设施稀缺。
- `candidates.csv`：新设施的候选点（路网节点）；`type` 为空表示任何类型均可。

可以通过命令行用自己的数据替换其中任何一个文件。

## English

Everything here is **simulated**: a synthetic street network, population points, facilities and
candidate sites for the life-circle coverage demo. Only the district boundaries, the division tree
and the 2020 census totals of the city and its 20 districts are real; street totals and age bands
are themselves simulated (see population.csv and SOURCES.md).

- `network.npz`: a generated network (EPSG:32648): jittered street grids (120–150 m in the central
  districts, 200–300 m in the suburbs, 150–250 m in towns) with one-way streets and footways in the
  core, four ring roads, radial avenues, roads between towns and winding country roads, clipped to
  the real district boundaries.
- `origins.csv`: population points near the streets; each street's points add up exactly to its
  2020 total, each district's age bands exactly to its 2020 bands (so the city's 15-59 total is
  43 below the published figure, which is rounded to 100 persons).
- `facilities.csv`: facilities (names end in "（模拟）") with deliberate gaps: some fast-growing
  suburban streets and outer towns are under-served; children's facilities are scarce in three
  districts.
- `candidates.csv`: candidate sites for new facilities (network nodes); an empty `type` means any.

Replace any file with your own through the CLI.

Generated by `planwatch.datasets.coverage_demo.build_coverage_demo(seed={seed}, scale={scale})`:
{nodes} nodes, {edges} edges, {origins} population points ({population} people), {facilities}
facilities, {candidates} candidate sites.
"""


def write_coverage_demo(demo: CoverageDemo, directory: Path) -> list[Path]:
    """Write ``network.npz``, ``origins.csv``, ``facilities.csv``, ``candidates.csv`` and
    ``SIMULATED.md`` into ``directory`` (created if needed); returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        directory / name
        for name in ("network.npz", "origins.csv", "facilities.csv", "candidates.csv", "SIMULATED.md")
    ]
    demo.network.save(paths[0])
    # every row says it is synthetic, so results computed from a mix of demo and real files are
    # still labelled simulated (planwatch.coverage.points reads the column)
    for frame, schema, path in (
        (demo.origins, ORIGIN_SCHEMA, paths[1]),
        (demo.facilities, FACILITY_SCHEMA, paths[2]),
        (demo.candidates, CANDIDATE_SCHEMA, paths[3]),
    ):
        frame.loc[:, list(schema)].assign(simulated="true").to_csv(path, index=False)
    summary = demo.summary()
    paths[4].write_text(
        _NOTE.format(
            **{
                k: summary[k]
                for k in (
                    "seed",
                    "scale",
                    "nodes",
                    "edges",
                    "origins",
                    "population",
                    "facilities",
                    "candidates",
                )
            }
        ),
        encoding="utf-8",
    )
    return paths
