"""Where a request is: the division that contains its point, its master address, or the division
names in its address text.

Boundaries locate a point down to the deepest level that has them (the real district boundaries
of the Chengdu example); below that, the nearest master-address point (门牌地址) of the same
district gives the community, as long as it is within ``request_location_max_m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree
from planwatch.errors import InvalidValueError
from planwatch.models import AddressPoint, Division
from planwatch.models.enums import DivisionLevel

_EARTH_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Location:
    division_id: int
    """The deepest division found (a community where address points exist)."""
    street_id: int | None
    district_id: int | None
    lat: float | None
    lon: float | None
    address: str | None
    method: str
    """``point``, ``address_id`` or ``address_string``."""


class Locator:
    """Point-in-boundary plus nearest address point; cached per database state."""

    def __init__(
        self,
        tree: DivisionTree,
        boundaries: dict[int, shapely.Geometry],
        points: dict[str, Any],
        *,
        max_distance_m: float,
    ) -> None:
        self.tree = tree
        self.boundary_ids = np.array(list(boundaries), dtype=np.int64)
        self.boundaries = list(boundaries.values())
        for geometry in self.boundaries:
            shapely.prepare(geometry)
        self.max_distance_m = max_distance_m
        self.codes: np.ndarray = points["code"]
        self.lon: np.ndarray = points["lon"]
        self.lat: np.ndarray = points["lat"]
        self.division: np.ndarray = points["division_id"]
        self.address: list[str] = points["address"]
        self.lat0 = float(np.mean(self.lat)) if len(self.lat) else 30.0
        # one KD-tree per district: a point is only matched with addresses of its own district
        self.district_of_point = np.array(
            [self._district_id(int(d)) or -1 for d in self.division], dtype=np.int64
        )
        self.trees: dict[int, tuple[cKDTree, np.ndarray]] = {}
        for district in np.unique(self.district_of_point):
            rows = np.flatnonzero(self.district_of_point == district)
            self.trees[int(district)] = (cKDTree(self._xy(self.lon[rows], self.lat[rows])), rows)
        self.by_code = {str(code): i for i, code in enumerate(self.codes)}
        names: dict[str, list[int]] = {}
        for node in tree.nodes.values():
            names.setdefault(node.name_zh, []).append(node.id)
        # longest names first, so 青羊区 is not also read as a shorter name inside it
        self.names = sorted(names.items(), key=lambda item: -len(item[0]))

    def _xy(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        scale = math.cos(math.radians(self.lat0))
        return np.column_stack([lon * _EARTH_M_PER_DEG * scale, lat * _EARTH_M_PER_DEG])

    def _district_id(self, division_id: int) -> int | None:
        node = self.tree.ancestor_at(division_id, DivisionLevel.district)
        return node.id if node else None

    def _location(
        self, division_id: int, *, lat: float | None, lon: float | None, address: str | None, method: str
    ) -> Location:
        street = self.tree.ancestor_at(division_id, DivisionLevel.street)
        return Location(
            division_id=division_id,
            street_id=street.id if street else None,
            district_id=self._district_id(division_id),
            lat=lat,
            lon=lon,
            address=address,
            method=method,
        )

    @classmethod
    def from_session(cls, session: Session, *, max_distance_m: float = 2000.0) -> Locator:
        """The locator of the database behind ``session`` (rebuilt when divisions or address
        points change)."""
        tree = division_tree(session)
        fingerprint = session.execute(select(func.count(AddressPoint.id), func.max(AddressPoint.id))).one()
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        key = (engine.url.render_as_string(hide_password=True), id(tree), *fingerprint, max_distance_m)
        cached = _LOCATORS.get(key)
        if cached is not None:
            return cached
        boundaries = {
            id_: shapely.from_geojson(geometry)
            if geometry.lstrip().startswith("{")
            else shapely.from_wkt(geometry)
            for id_, geometry in session.execute(
                select(Division.id, Division.geometry).where(
                    Division.geometry.is_not(None),
                    Division.valid_to.is_(None),
                    Division.level != DivisionLevel.city,
                )
            ).all()
            if geometry
        }
        rows = session.execute(
            select(
                AddressPoint.code,
                AddressPoint.lon,
                AddressPoint.lat,
                AddressPoint.division_id,
                AddressPoint.address,
            )
        ).all()
        points = {
            "code": np.array([r[0] for r in rows], dtype=object),
            "lon": np.array([r[1] for r in rows], dtype=np.float64),
            "lat": np.array([r[2] for r in rows], dtype=np.float64),
            "division_id": np.array([r[3] for r in rows], dtype=np.int64),
            "address": [r[4] for r in rows],
        }
        locator = cls(tree, boundaries, points, max_distance_m=max_distance_m)
        if len(_LOCATORS) > 8:
            _LOCATORS.clear()
        _LOCATORS[key] = locator
        return locator

    def containing(self, lat: float, lon: float) -> int | None:
        """The deepest division whose boundary contains the point, or None (outside them all)."""
        inside = [
            int(self.boundary_ids[i])
            for i, geometry in enumerate(self.boundaries)
            if shapely.contains_xy(geometry, lon, lat)
        ]
        if not inside:
            return None
        return max(inside, key=lambda id_: self.tree.nodes[id_].level.depth if id_ in self.tree.nodes else -1)

    def locate(
        self,
        *,
        lat: float | None = None,
        lon: float | None = None,
        address_id: str | None = None,
        address_string: str | None = None,
    ) -> Location:
        """The division of a point, a master address or an address text (in that order of trust).

        Raises
        ------
        InvalidValueError
            Naming the Open311 field: no location at all, a point outside the jurisdiction, an
            unknown ``address_id``, an address text that names no division.
        """
        if lat is not None or lon is not None:
            if lat is None or lon is None:
                raise InvalidValueError("give both lat and long (WGS84 degrees), or neither")
            if not (math.isfinite(lat) and math.isfinite(lon)) or not (
                -90 <= lat <= 90 and -180 <= lon <= 180
            ):
                raise InvalidValueError(
                    f"lat/long {lat}, {lon} are not WGS84 degrees (lat −90…90, long −180…180)"
                )
            found = self.containing(lat, lon)
            if found is None:
                raise InvalidValueError(
                    f"the point lat {lat}, long {lon} is outside this jurisdiction (本市行政区域以外); "
                    "check the coordinates (WGS84, not GCJ-02) or send the request to the city it is in"
                )
            return self._location(
                self._refine(found, lat, lon), lat=lat, lon=lon, address=address_string, method="point"
            )
        if address_id:
            index = self.by_code.get(address_id.strip())
            if index is None:
                raise InvalidValueError(
                    f"address_id {address_id!r} is not a known master address (门牌地址编码)"
                )
            return self._location(
                int(self.division[index]),
                lat=float(self.lat[index]),
                lon=float(self.lon[index]),
                address=address_string or self.address[index],
                method="address_id",
            )
        if address_string and address_string.strip():
            return self._location(self._by_names(address_string), lat=None, lon=None, address=address_string,
                                  method="address_string")  # fmt: skip
        raise InvalidValueError(
            "the request has no location: give lat and long, or address_string, or address_id (位置必填)"
        )

    def _refine(self, division_id: int, lat: float, lon: float) -> int:
        """Below the deepest boundary: the nearest address point's division, when near enough."""
        district = self._district_id(division_id)
        if district is None or district not in self.trees:
            return division_id
        kdtree, rows = self.trees[district]
        distance, index = kdtree.query(self._xy(np.array([lon]), np.array([lat]))[0])
        if not np.isfinite(distance) or distance > self.max_distance_m:
            return division_id
        candidate = int(self.division[rows[int(index)]])
        node = self.tree.nodes.get(candidate)
        mine = self.tree.nodes[division_id]
        return candidate if node is not None and node.level.depth > mine.level.depth else division_id

    def _by_names(self, text: str) -> int:
        """The deepest division named in ``text`` whose named ancestors agree with the rest."""
        remaining = text
        found: list[list[int]] = []
        for name, ids in self.names:
            if len(name) >= 2 and name in remaining:
                found.append(ids)
                remaining = remaining.replace(name, "\x00")
        if not found:
            raise InvalidValueError(
                f"address_string {text[:80]!r} names no district, street or community of this jurisdiction; "
                "write the district and street (区、街道), or give lat/long"
            )
        named = {id_ for ids in found for id_ in ids}
        best: tuple[int, int] | None = None  # (score, id)
        for ids in found:
            for id_ in ids:
                path = {n.id for n in self.tree.path(id_)}
                # more named ancestors agreeing first, then depth
                score = len(path & named) * 10 + self.tree.nodes[id_].level.depth
                ambiguous = len(ids) > 1 and not (path - {id_}) & named
                if ambiguous:
                    continue
                if best is None or score > best[0]:
                    best = (score, id_)
        if best is None:
            # every name found is shared by several divisions and nothing disambiguates it
            raise InvalidValueError(
                f"address_string {text[:80]!r} is ambiguous (the name exists in several districts); "
                "add the district (区县名称) or give lat/long"
            )
        return best[1]


_LOCATORS: dict[tuple[Any, ...], Locator] = {}
