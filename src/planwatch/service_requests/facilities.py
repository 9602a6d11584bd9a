"""The facilities registry (设施): the supply side of supply–demand matching, imported from the
same CSV files as the life-circle coverage module (``id,type,name,lon,lat,capacity,division_code``
and optionally ``simulated``), read by the coverage reader.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.errors import ImportFileError
from planwatch.models import Facility

__all__ = ["FacilityImportReport", "import_facilities"]


@dataclass
class FacilityImportReport:
    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    simulated: bool = False
    types: dict[str, int] = field(default_factory=dict)


def import_facilities(
    session: Session,
    path: Path,
    *,
    simulated: bool | None = None,
    keep: Callable[[str], bool] | None = None,
) -> FacilityImportReport:
    """Upsert facilities (by ``id``) from a coverage facility file: columns ``id``, ``type``,
    ``name``, ``lon``, ``lat``, ``capacity``, ``division_code`` and optionally ``simulated``.

    All or nothing: every row is checked before anything is written, and re-running the same file
    changes nothing. Facilities already stored but absent from the file are left alone.

    Parameters
    ----------
    simulated
        Mark every row simulated (``True``) or real (``False``); ``None``: as the file's
        ``simulated`` column says (any true row marks the file simulated).
    keep
        Import only rows whose type passes (e.g. the types of the supply–demand pairs).

    Raises
    ------
    ImportFileError
        Naming the file, row and column: a missing column, an unknown facility type, a bad number,
        a duplicate id, or a division code not in the division tree.
    """
    from planwatch.coverage.points import facilities_from_file
    from planwatch.coverage.standards import load_standards

    name = str(path)
    if path.suffix.lower() != ".csv":
        raise ImportFileError(
            name, "facilities for supply–demand matching are read from CSV; save the layer as .csv"
        )
    facilities = facilities_from_file(path, crs="EPSG:4326", types=frozenset(load_standards().facility_types))
    header = _header(path)
    for column in ("id", "name", "division_code"):
        if column not in header:
            raise ImportFileError(
                name,
                f"column '{column}' missing; a facility file needs id, type, name, lon, lat, capacity, division_code",
            )
    tree = division_tree(session)
    chosen = [i for i in range(len(facilities)) if keep is None or keep(str(facilities.type[i]))]
    for i in chosen:
        code = str(facilities.ids[i]).strip()
        if not code or len(code) > 64:
            raise ImportFileError(name, f"row {i + 2}, column 'id': give an id of 1 to 64 characters")
        if str(facilities.type[i]) == "":
            raise ImportFileError(name, f"row {i + 2}, column 'type' is empty; give the facility type")
        if str(facilities.division_code[i]) not in tree.by_code:
            raise ImportFileError(
                name,
                f"row {i + 2}, column 'division_code': '{facilities.division_code[i]}' is not a current division;"
                " load the divisions or correct the code",
            )
    flag = facilities.simulated if simulated is None else simulated
    existing = {f.code: f for f in session.scalars(select(Facility))}
    report = FacilityImportReport(source=path.name, rows=len(chosen), simulated=flag)
    types: dict[str, int] = defaultdict(int)
    for i in chosen:
        capacity = float(facilities.capacity[i])
        values: dict[str, Any] = {
            "type": str(facilities.type[i]),
            "name": str(facilities.name[i])[:300] or str(facilities.type[i]),
            "lon": float(facilities.lon[i]),
            "lat": float(facilities.lat[i]),
            "capacity": None if np.isnan(capacity) else capacity,
            "division_id": tree.by_code[str(facilities.division_code[i])].id,
            "simulated": flag,
            "source": path.name,
        }
        types[values["type"]] += 1
        code = str(facilities.ids[i]).strip()
        current = existing.get(code)
        if current is None:
            facility = Facility(code=code, **values)
            session.add(facility)
            existing[code] = facility
            report.created += 1
            continue
        changed = False
        for key, value in values.items():
            if getattr(current, key) != value:
                setattr(current, key, value)
                changed = True
        report.updated += changed
        report.unchanged += not changed
    report.types = dict(sorted(types.items()))
    session.flush()
    return report


def _header(path: Path) -> list[str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with path.open(encoding=encoding, newline="") as handle:
                return [c.strip() for c in next(csv.reader(handle), [])]
        except UnicodeDecodeError:
            continue
    return []  # the reader has said what is wrong with the file already
