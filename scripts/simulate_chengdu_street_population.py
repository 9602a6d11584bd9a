#!/usr/bin/env python3
"""Build src/planwatch/datasets/chengdu/population.csv (2020 resident population).

Columns: division_code,year,age_band,population,source,note

* source = census2020 -- figures of the 7th national census (第七次全国人口普查,
  2020-11-01, 常住人口) as published; the URL is in the note.
* source = simulated  -- NOT census figures; made up here by the rule written
  in the note (and in SOURCES.md).  Never present them as official.

What is sourced (the table CENSUS below; see SOURCES.md for the discussion):

* city total 20,937,757 and the city's age bands 0-14 / 15-59 / 60+ / 65+
  (published in 万人 with two decimals, i.e. rounded to 100 persons);
* the 20 districts' totals on the administrative-division basis (行政区划口径):
  each includes the parts of 四川天府新区成都直管区, 成都高新区 and 成都东部新区
  that lie inside it, and the 20 figures add up exactly to the city total;
* 金堂县's age bands (0-14 and 65+ as given; 60+ and 15-59 derived from the
  10-year age groups of the same table).

What is simulated:

* age bands of the other 19 districts: for each band b in (0-14, 60+, 65+)
  the city's band minus 金堂县's band is shared out among the 19 districts in
  proportion to their census totals (largest-remainder rounding, ties by code);
  15-59 = total - (0-14) - (60+).  So every district's bands add up to its
  total, and the districts' 0-14, 60+ and 65+ add up to the city's published
  (rounded) bands.
* street/town totals (age_band "total" only): each district's census total is
  shared out among its streets in proportion to a weight
      weight = (3 x urban communities + 1 x villages) x jitter
  where urban communities are the street's child divisions whose 12-digit code
  has 10th digit 0 or 4 (居委会 / virtual community) and villages those with 2
  (村委会), and jitter ~ Uniform(0.75, 1.25) drawn from random.Random(20201101)
  once per street in ascending street-code order.  Largest-remainder rounding
  makes the streets add up exactly to the district total.

Reads divisions.csv from the same directory (made by
scripts/derive_chengdu_divisions.py).  Standard library only; deterministic.

Usage::

    python3 scripts/simulate_chengdu_street_population.py          # write
    python3 scripts/simulate_chengdu_street_population.py --check  # compare
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / "src" / "planwatch" / "datasets" / "chengdu"

YEAR = 2020
SEED = 20201101
URBAN_WEIGHT, VILLAGE_WEIGHT = 3.0, 1.0
JITTER = (0.75, 1.25)
BANDS = ["total", "0-14", "15-59", "60+", "65+"]

# ------------------------------------------------------------ sourced figures
URL_DISTRICTS = "https://www.citypopulation.de/en/china/sichuan/admin/5101__chéngdū_shì/"
URL_CITY_NEWS = "http://house.china.com.cn/1718128.htm"
URL_CITY_AGE = "https://dinovaliano.com/news/data/hongguan/20210603/1003451469827_2.shtml"
URL_JINTANG = "https://www.citypopulation.de/en/china/sichuan/admin/jīntáng_xiàn/510121__jīntáng_xiàn"

CITY_CODE = "510100"
CITY_TOTAL = 20937757
# 7th census, 常住人口 on 2020-11-01, administrative-division basis.
DISTRICT_TOTALS = {
    "510104": 902933,  # 锦江区
    "510105": 955954,  # 青羊区
    "510106": 1265398,  # 金牛区
    "510107": 1855186,  # 武侯区 (incl. streets managed by 成都高新区)
    "510108": 1381894,  # 成华区
    "510112": 1346210,  # 龙泉驿区
    "510113": 490091,  # 青白江区
    "510114": 1558466,  # 新都区
    "510115": 967868,  # 温江区
    "510116": 2659829,  # 双流区 (incl. 天府新区成都直管区 and 高新区 parts)
    "510117": 1672025,  # 郫都区 (incl. 高新区 西区 parts)
    "510118": 363591,  # 新津区
    "510121": 800371,  # 金堂县
    "510129": 515962,  # 大邑县
    "510131": 255563,  # 蒲江县
    "510181": 710056,  # 都江堰市
    "510182": 780399,  # 彭州市
    "510183": 602973,  # 邛崃市
    "510184": 735723,  # 崇州市
    "510185": 1117265,  # 简阳市 (incl. 成都东部新区 parts)
}
# City age bands, published as 278.08万 / 1439.29万 / 376.41万 / 285.12万
# (13.28% / 68.74% / 17.98% / 13.62%).
CITY_AGE = {"0-14": 2780800, "15-59": 14392900, "60+": 3764100, "65+": 2851200}
# 金堂县 (510121): 0-14 and 65+ as given; 10-year groups 60-69, 70-79, 80+.
JINTANG_CODE = "510121"
JINTANG = {
    "0-14": 117501,
    "65+": 137359,
    "60-69": 96279,
    "70-79": 56368,
    "80+": 25344,
    "15-64": 545511,
}

NOTE_CITY_TOTAL = (
    "7th national census (2020-11-01) resident population 常住人口 of 成都市; "
    f"{URL_CITY_NEWS} ; {URL_DISTRICTS}"
)
NOTE_CITY_AGE = (
    "7th census, city age structure as published in 万人 with 2 decimals "
    "(rounded to 100 persons; the four published bands 0-14/15-59/60+ add up to "
    "20937800, not 20937757); counts: " + URL_CITY_AGE + " (copy of a 中商情报网/askci "
    "article quoting the 公报); shares 13.28/68.74/17.98/13.62%: " + URL_CITY_NEWS
)
NOTE_DISTRICT_TOTAL = (
    "7th census 常住人口 on the administrative-division basis (行政区划口径): "
    "includes the parts of 天府新区成都直管区 / 成都高新区 / 成都东部新区 "
    "inside "
    "the district; the 20 district figures add up exactly to the city total "
    "20937757; " + URL_DISTRICTS + " (compiled from NBS and Sichuan statistics "
    "bureaus)"
)
NOTE_DISTRICT_TOTAL_FUNCTIONAL = (
    " NB: the 公报(第二号) 23-region table reports a smaller figure "
    "for this district because part of it is counted under a "
    "functional area."
)
FUNCTIONAL_AFFECTED = {"510107", "510116", "510117", "510185"}
NOTE_JINTANG = {
    "0-14": f"7th census, as given: {URL_JINTANG}",
    "65+": f"7th census, as given: {URL_JINTANG}",
    "60+": (
        "7th census, 60+ = 60-69 + 70-79 + 80+ (96279 + 56368 + 25344) from the age "
        f"distribution of {URL_JINTANG}"
    ),
    "15-59": (
        "7th census, derived: total - (0-14) - (60+) = 800371 - 117501 - 177991; "
        f"consistent with 15-64 = 545511 on {URL_JINTANG}"
    ),
}
NOTE_SIM_AGE = (
    "SIMULATED, not census: district total x the share of (city band - 金堂县 band) "
    "in (city total - 金堂县 total), largest-remainder rounding; 15-59 = total - "
    "(0-14) - (60+). See SOURCES.md."
)
NOTE_SIM_STREET = (
    "SIMULATED, not census: district census total split over its streets by "
    "weight (3 x urban communities + 1 x villages) x Uniform(0.75,1.25) jitter "
    f"(random.Random({SEED}), street-code order), largest-remainder rounding. "
    "See SOURCES.md."
)


def require(ok: bool, message: object) -> None:
    """Stop with *message* unless *ok* (a check that must hold even under python -O)."""
    if not ok:
        raise SystemExit(f"check failed: {message}")


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of integer *total* in proportion to *weights*."""
    wsum = sum(weights.values())
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(v) for k, v in raw.items()}
    short = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:short]:
        out[k] += 1
    require(sum(out.values()) == total, "apportionment")
    return out


def load_divisions(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build(divisions: list[dict[str, str]]) -> list[list[object]]:
    districts = sorted(r["code"] for r in divisions if r["level"] == "district")
    require(districts == sorted(DISTRICT_TOTALS), "district codes differ from the census table")
    require(sum(DISTRICT_TOTALS.values()) == CITY_TOTAL, "districts do not add up to the city")

    rows: list[list[object]] = []
    rows.append([CITY_CODE, YEAR, "total", CITY_TOTAL, "census2020", NOTE_CITY_TOTAL])
    for b in BANDS[1:]:
        rows.append([CITY_CODE, YEAR, b, CITY_AGE[b], "census2020", NOTE_CITY_AGE])

    # district age bands
    jt60 = JINTANG["60-69"] + JINTANG["70-79"] + JINTANG["80+"]
    jt = {"0-14": JINTANG["0-14"], "60+": jt60, "65+": JINTANG["65+"]}
    jt["15-59"] = DISTRICT_TOTALS[JINTANG_CODE] - jt["0-14"] - jt["60+"]
    # cross-check with the table's own 15-64: 15-64 = (15-59) + (60-64), 60-64 = 60-69 - 65-69
    age65_69 = JINTANG["65+"] - JINTANG["70-79"] - JINTANG["80+"]
    require(jt["15-59"] + (JINTANG["60-69"] - age65_69) == JINTANG["15-64"], "金堂县 15-64")
    others = {c: float(DISTRICT_TOTALS[c]) for c in districts if c != JINTANG_CODE}
    sim = {b: apportion(CITY_AGE[b] - jt[b], others) for b in ("0-14", "60+", "65+")}

    for c in districts:
        total = DISTRICT_TOTALS[c]
        note = NOTE_DISTRICT_TOTAL
        if c in FUNCTIONAL_AFFECTED:
            note += NOTE_DISTRICT_TOTAL_FUNCTIONAL
        rows.append([c, YEAR, "total", total, "census2020", note])
        if c == JINTANG_CODE:
            for b in BANDS[1:]:
                rows.append([c, YEAR, b, jt[b], "census2020", NOTE_JINTANG[b]])
        else:
            a014, a60, a65 = sim["0-14"][c], sim["60+"][c], sim["65+"][c]
            a1559 = total - a014 - a60
            require(a1559 > 0, c)
            require(a65 <= a60, c)
            for b, v in (("0-14", a014), ("15-59", a1559), ("60+", a60), ("65+", a65)):
                rows.append([c, YEAR, b, v, "simulated", NOTE_SIM_AGE])

    # street totals
    rng = random.Random(SEED)  # noqa: S311 -- reproducible simulation, not security
    streets = sorted((r for r in divisions if r["level"] == "street"), key=lambda r: r["code"])
    kids: dict[str, list[str]] = {}
    for r in divisions:
        if r["level"] == "community":
            kids.setdefault(r["parent_code"], []).append(r["code"])
    weight: dict[str, float] = {}
    for s in streets:
        urban = sum(1 for k in kids.get(s["code"], []) if k[9] in "04")
        village = sum(1 for k in kids.get(s["code"], []) if k[9] == "2")
        require(urban + village == len(kids.get(s["code"], [])), s)
        weight[s["code"]] = (URBAN_WEIGHT * urban + VILLAGE_WEIGHT * village) * rng.uniform(*JITTER)
    for d in districts:
        ws = {s["code"]: weight[s["code"]] for s in streets if s["parent_code"] == d}
        for code, v in sorted(apportion(DISTRICT_TOTALS[d], ws).items()):
            rows.append([code, YEAR, "total", v, "simulated", NOTE_SIM_STREET])
    return rows


def render(rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["division_code", "year", "age_band", "population", "source", "note"])
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help="dataset directory with divisions.csv; population.csv is written there",
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if population.csv differs from the built one",
    )
    args = ap.parse_args(argv)
    data = render(build(load_divisions(args.dir / "divisions.csv")))
    target = args.dir / "population.csv"
    if args.check:
        same = target.exists() and target.read_bytes() == data
        print(
            "check: population.csv is byte-identical" if same else f"DIFFERS: {target}",
            file=sys.stdout if same else sys.stderr,
        )
        return 0 if same else 1
    target.write_bytes(data)
    print(f"wrote {target} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
