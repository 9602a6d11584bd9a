"""Evaluating 300 indicators at every division of Chengdu from 10,055,100 annual values: planwatch
(``load_values`` → ``rollup_frame`` → ``status_frame``) beside the same roll-up as one DuckDB query.

Prints a table; asserts nothing. The data are synthetic: 300 indicators reported by every community
of Chengdu (3,047) for the eleven years 2015–2025, approved, with a mix of aggregations (sum, ratio
with numerator and denominator, population-weighted mean, min, max, count_meeting) and about 1 %
missing values. The shipped population file has no community population, so the fixture gives every
community a synthetic one (its street's population shared out), stored with source ``simulated``.

The database is built once and cached in the system's temporary folder (SQLite; rebuilt when the
schema version changes); ``--database-url`` names an empty database instead (e.g. PostgreSQL; it is
left filled and reused when it already holds the fixture). The fixture's values are written straight
into ``data_values`` with bulk inserts, bypassing the audited writer (no audit rows, no hash chain):
this measures reading and evaluating, not importing (``ingest.py`` measures that).

    .venv/bin/python benchmarks/evaluation.py [--values N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from planwatch.datasets import chengdu_path
from planwatch.db import head_revision, make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import division_tree, load_divisions, population_by_division
from planwatch.evaluation.frame import indicator_specs, rollup_frame, status_frame, tree_series
from planwatch.evaluation.values_io import load_values
from planwatch.models import DataValue, Division, Indicator, Population
from planwatch.models.enums import DivisionLevel, PopulationSource
from planwatch.plans.service import load_plan_file

COMMUNITIES, INDICATORS = 3047, 300
YEARS = list(range(2015, 2026))
VALUES = COMMUNITIES * INDICATORS * len(YEARS)
REPEAT = 3
METHODS = ("sum", "ratio", "weighted_mean", "min", "max", "count_meeting")
PLAN_CODE = "BENCH-EVAL"
RECORDED_AT = "2026-03-01 02:00:00.000000"


def indicator_yaml(number: int) -> str:
    method = METHODS[number % len(METHODS)]
    aggregation = {
        "sum": "{method: sum}",
        "ratio": "{method: ratio, factor: 100, numerator: 分子, denominator: 分母}",
        "weighted_mean": "{method: weighted_mean, weight: population}",
        "min": "{method: min}",
        "max": "{method: max}",
        "count_meeting": "{method: count_meeting, comparator: '>=', threshold: 1}",
    }[method]
    direction = "lower" if method == "min" else "higher"
    return (
        f"  - {{code: bm_{number:03d}_{method}, name: 基准指标{number}, unit: 个, direction: {direction}, "
        f"aggregation: {aggregation}, levels: [community]}}\n"
    )


PLAN = (
    "format: planwatch.plan/v1\n"
    f"plan: {{code: {PLAN_CODE}, title: 评估基准测试规划, kind: special, period: [2021, 2025], "
    'base_year: 2020, scope: "510100"}\n'
    "indicators:\n" + "".join(indicator_yaml(n) for n in range(INDICATORS))
)


def synthetic_values(
    indicator_ids: list[int], methods: list[str], communities: npt.NDArray[np.int64], count: int
) -> dict[str, Any]:
    """Every (indicator, community, year), indicator-major, cut at ``count``; columns as arrays."""
    per_indicator = len(communities) * len(YEARS)
    index = np.arange(count)
    rng = np.random.default_rng(14)
    which = index // per_indicator
    year = np.asarray(YEARS)[(index // len(communities)) % len(YEARS)]
    growth = 1.0 + 0.04 * (year - YEARS[0])
    size = rng.lognormal(4, 0.6, len(communities))[index % len(communities)]  # each community its own level
    method = np.asarray(methods)[which]
    value = np.round(size * growth * rng.uniform(0.8, 1.2, count), 2)
    numerator = np.full(count, np.nan)
    denominator = np.full(count, np.nan)
    ratio = method == "ratio"
    den = np.round(size * 10 * rng.uniform(0.9, 1.1, count))
    share = np.clip(0.3 + 0.05 * (year - YEARS[0]) + rng.normal(0, 0.1, count), 0, 1)
    numerator[ratio] = np.floor(den * share)[ratio]
    denominator[ratio] = den[ratio]
    value[ratio] = numerator[ratio] / denominator[ratio] * 100
    mean = method == "weighted_mean"
    value[mean] = np.round(np.clip(60 + 2 * (year - YEARS[0]) + rng.normal(0, 8, count), 0, 100), 1)[mean]
    meeting = method == "count_meeting"
    value[meeting] = rng.poisson(0.5 + 0.1 * (year - YEARS[0]))[meeting]
    missing = rng.random(count) < 0.01
    value[missing] = np.nan
    numerator[missing & ratio & (rng.random(count) < 0.5)] = np.nan
    return {
        "indicator_id": np.asarray(indicator_ids, dtype=np.int64)[which],
        "division_id": communities[index % len(communities)],
        "year": year,
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
        "simulated": rng.random(count) < 0.01,
    }


def _nullable(array: npt.NDArray[np.float64]) -> list[float | None]:
    return [None if math.isnan(x) else x for x in array.tolist()]


def insert_values(engine: Engine, columns: dict[str, Any], chunk: int = 500_000) -> None:
    """Bulk insert into ``data_values`` (no audit: a benchmark fixture, see the module docstring)."""
    count = len(columns["year"])
    sql = (
        "INSERT INTO data_values (indicator_id, division_id, period, year, value, numerator, denominator,"  # noqa: S608
        " deleted, source, status, recorded_by, recorded_at) VALUES "
        + ("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" if engine.dialect.name == "sqlite" else "")
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, count, chunk):
            part = slice(start, start + chunk)
            year = columns["year"][part].tolist()
            rows = zip(
                columns["indicator_id"][part].tolist(),
                columns["division_id"][part].tolist(),
                [str(y) for y in year],
                year,
                _nullable(columns["value"][part]),
                _nullable(columns["numerator"][part]),
                _nullable(columns["denominator"][part]),
                [False] * len(year),
                np.where(columns["simulated"][part], "simulated", "reported").tolist(),
                ["approved"] * len(year),
                ["bench"] * len(year),
                [RECORDED_AT] * len(year),
                strict=True,
            )
            if engine.dialect.name == "sqlite":
                cursor.executemany(sql, rows)
            else:  # psycopg: COPY is the bulk path
                copy_sql = sql.split(" VALUES ")[0].replace("INSERT INTO", "COPY") + " FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
            print(f"    {min(start + chunk, count):>12,} values written", flush=True)
    finally:
        raw.close()


def build(engine: Engine, count: int) -> None:
    """Schema, divisions with population (communities: synthetic), the indicators, the values."""
    migrate(engine)
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "bench_plan.yaml"
        plan.write_text(PLAN, encoding="utf-8")
        with transaction(session_factory(engine)) as session:
            load_divisions(
                session, chengdu_path("divisions.csv"), population_csv=chengdu_path("population.csv")
            )
            load_plan_file(session, plan)
    with transaction(session_factory(engine)) as session:
        divisions = session.execute(
            select(Division.id, Division.parent_id, Division.level).where(Division.valid_to.is_(None))
        ).all()
        street_population = dict(
            session.execute(
                select(Population.division_id, Population.population).where(
                    Population.age_band == "total", Population.year == 2020
                )
            ).all()
        )
        communities = sorted(d.id for d in divisions if d.level is DivisionLevel.community)
        per_street: dict[int, int] = {}
        for d in divisions:
            if d.level is DivisionLevel.community and d.parent_id is not None:
                per_street[d.parent_id] = per_street.get(d.parent_id, 0) + 1
        rng = np.random.default_rng(7)
        parent = {d.id: d.parent_id for d in divisions}
        for community in communities:
            street = parent[community]
            share = street_population.get(street, 40_000) / per_street.get(street, 1)  # type: ignore[arg-type]
            session.add(
                Population(
                    division_id=community,
                    year=2020,
                    age_band="total",
                    population=int(share * rng.uniform(0.6, 1.4)),
                    source=PopulationSource.simulated,
                    note="benchmark fixture: the street's population shared out",
                )
            )
    with session_factory(engine)() as session:
        rows = session.execute(select(Indicator.id, Indicator.aggregation).order_by(Indicator.code)).all()
    ids = [r.id for r in rows]
    methods = [r.aggregation.value for r in rows]
    columns = synthetic_values(ids, methods, np.asarray(communities, dtype=np.int64), count)
    insert_values(engine, columns)


def database(args: argparse.Namespace) -> tuple[Engine, str]:
    """The fixture database (built now, or found from an earlier run) and how long building took."""
    if args.database_url:
        url = args.database_url
        note = None
    else:
        folder = Path(tempfile.gettempdir()) / "planwatch-bench"
        folder.mkdir(exist_ok=True)
        path = folder / f"evaluation-{args.values}-{head_revision()}.db"
        url = f"sqlite:///{path}"
        note = path.with_suffix(".built")
    engine = make_engine(url)
    if inspect(engine).get_table_names():
        with session_factory(engine)() as session:
            stored = session.scalar(select(func.count()).select_from(DataValue))
        if stored == args.values:
            took = note.read_text().strip() if note is not None and note.exists() else "?"
            return engine, f"reused {url} (built earlier in {took} s; delete it to rebuild)"
        if note is None:
            raise SystemExit(f"{url}: the database is not empty and does not hold this fixture")
        engine.dispose()
        Path(url.removeprefix("sqlite:///")).unlink()
        engine = make_engine(url)
    print(f"building {url} with {args.values:,} values …", flush=True)
    start = time.perf_counter()
    build(engine, args.values)
    took = time.perf_counter() - start
    if note is not None:
        note.write_text(f"{took:.1f}")
    return engine, f"built {url} in {took:.1f} s"


# ---------------------------------------------------------------------------------------------
# measuring


@dataclass
class Timing:
    label: str
    wall: float
    cpu: float
    peak: int | None
    """Peak resident memory during the step (bytes), see ``peak_rss``."""
    base: int | None
    """Resident memory when the step began."""


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux: ``/proc/self/clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int | None:
    """Peak resident set size since the last ``reset_peak`` (VmHWM), or of the whole process
    (``resource.getrusage`` maxrss) where the peak cannot be reset."""
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed(label: str, func: Callable[[], Any], repeat: int = 1) -> tuple[Any, Timing]:
    """Run ``func`` ``repeat`` times; its last result and the fastest run's timing."""
    best: Timing | None = None
    result: Any = None
    for _ in range(repeat):
        result = None
        gc.collect()
        reset_peak()
        base = _status_kib("VmRSS")
        start, cpu = time.perf_counter(), time.process_time()
        result = func()
        timing = Timing(label, time.perf_counter() - start, time.process_time() - cpu, peak_rss(), base)
        if best is None or timing.wall < best.wall:
            best = timing
    assert best is not None  # noqa: S101 - repeat >= 1
    return result, best


# ---------------------------------------------------------------------------------------------
# planwatch


def targets_frame(specs: pd.DataFrame) -> pd.DataFrame:
    """One level target per indicator, judged in 2023 at every division: base 2020, due 2025."""
    goal = {
        "sum": 100.0,
        "ratio": 75.0,
        "weighted_mean": 80.0,
        "min": 30.0,
        "max": 250.0,
        "count_meeting": 2.0,
    }
    method = specs["aggregation"].astype(str)
    lower = method == "min"
    return pd.DataFrame(
        {
            "indicator_id": specs.index.to_numpy(),
            "baseline_year": 2020,
            "deadline_year": 2025,
            "comparator": np.where(lower, "<=", ">="),
            "value": method.map(goal).to_numpy(),
            "higher_is_better": ~lower.to_numpy(),
            "year": 2023,
        }
    )


Inputs = tuple[list[int], pd.DataFrame, pd.Series, pd.Series, dict[int, int]]
"""Indicator ids, specs, parent, level and population."""


def planwatch_inputs(engine: Engine) -> Inputs:
    with session_factory(engine)() as session:
        indicators = list(session.scalars(select(Indicator).order_by(Indicator.id)))
        parent, level = tree_series(division_tree(session))
        population = {k: v[0] for k, v in population_by_division(session, 2023).items()}
        return [i.id for i in indicators], indicator_specs(indicators), parent, level, population


# ---------------------------------------------------------------------------------------------
# DuckDB

ROLLUP_SQL = """
WITH units AS (          -- values at a level where their indicator is reported
    SELECT v.*, d.depth
    FROM v JOIN divisions d USING (division_id)
    JOIN spec_levels l ON l.indicator_id = v.indicator_id AND l.depth = d.depth
),
candidates AS (          -- every ancestor of the units, per level rolled up from
    SELECT u.indicator_id, a.ancestor_id AS division_id, u.year, u.depth AS rolled_from,
        count(*) AS units_reported,
        bool_or(u.simulated) AS simulated,
        CASE any_value(s.aggregation)
            WHEN 'sum' THEN sum(u.value)
            WHEN 'min' THEN min(u.value)
            WHEN 'max' THEN max(u.value)
            WHEN 'ratio' THEN
                sum(u.numerator) FILTER (WHERE u.numerator IS NOT NULL AND u.denominator IS NOT NULL)
                / nullif(sum(u.denominator) FILTER (WHERE u.numerator IS NOT NULL AND u.denominator IS NOT NULL), 0)
                * any_value(s.factor)
            WHEN 'weighted_mean' THEN
                sum(u.value * p.population) FILTER (WHERE u.value IS NOT NULL AND p.population IS NOT NULL)
                / CASE WHEN sum(p.population) FILTER (WHERE u.value IS NOT NULL AND p.population IS NOT NULL) > 0
                       THEN sum(p.population) FILTER (WHERE u.value IS NOT NULL AND p.population IS NOT NULL) END
            WHEN 'count_meeting' THEN
                CASE WHEN count(u.value) > 0 THEN count(*) FILTER (WHERE CASE s.condition_comparator
                    WHEN '>=' THEN u.value >= s.condition_threshold
                    WHEN '>' THEN u.value > s.condition_threshold
                    WHEN '<=' THEN u.value <= s.condition_threshold
                    WHEN '<' THEN u.value < s.condition_threshold
                    WHEN '=' THEN abs(u.value - s.condition_threshold)
                        <= 1e-9 * greatest(abs(s.condition_threshold), 1e-12)
                    WHEN '~' THEN abs(u.value - s.condition_threshold)
                        <= 0.02 * greatest(abs(s.condition_threshold), 1e-12)
                END) END
        END AS value
    FROM units u
    JOIN ancestors a ON a.division_id = u.division_id
    JOIN spec s ON s.indicator_id = u.indicator_id
    LEFT JOIN population p ON p.division_id = u.division_id
    GROUP BY u.indicator_id, a.ancestor_id, u.year, u.depth
),
nearest AS (             -- the nearest level below that has rows
    SELECT * FROM candidates
    QUALIFY row_number() OVER (PARTITION BY indicator_id, division_id, year ORDER BY rolled_from) = 1
),
own AS (SELECT indicator_id, division_id, year, value, simulated FROM v WHERE value IS NOT NULL)
SELECT indicator_id, division_id, year, value, simulated,
    NULL::INTEGER AS rolled_from, NULL::INTEGER AS units_reported, NULL::INTEGER AS units_expected
FROM own
UNION ALL
SELECT n.indicator_id, n.division_id, n.year, n.value, n.simulated,
    n.rolled_from, n.units_reported, e.units_expected
FROM nearest n
JOIN expected e ON e.ancestor_id = n.division_id AND e.depth = n.rolled_from
ANTI JOIN own o ON o.indicator_id = n.indicator_id AND o.division_id = n.division_id AND o.year = n.year
"""


def duckdb_tables(
    connection: Any,
    values: pd.DataFrame,
    specs: pd.DataFrame,
    parent: pd.Series,
    level: pd.Series,
    population: dict[int, int],
) -> None:
    """The values and the small lookup tables as DuckDB tables (copied out of the numpy arrays)."""
    ids = level.index.to_numpy()
    up = dict(zip(ids.tolist(), parent.to_numpy().tolist(), strict=True))
    depth = dict(zip(ids.tolist(), level.to_numpy().tolist(), strict=True))
    pairs = []
    for division in ids.tolist():  # the closure of the tree: every (division, ancestor) pair
        node = up.get(division, -1)
        while node in depth:
            pairs.append((division, node))
            node = up.get(node, -1)
    ancestors = pd.DataFrame(pairs, columns=["division_id", "ancestor_id"])
    divisions = pd.DataFrame({"division_id": ids, "depth": level.to_numpy()})
    spec = specs.reset_index()[
        ["indicator_id", "aggregation", "factor", "condition_comparator", "condition_threshold"]
    ]
    spec_levels = specs["levels"].explode().rename("depth").reset_index().astype({"depth": "int64"})
    pop = pd.DataFrame(
        {"division_id": list(population), "population": [float(p) for p in population.values()]}
    )
    v = values.drop(columns=["period"])
    for name, frame in (
        ("v", v),
        ("ancestors", ancestors),
        ("divisions", divisions),
        ("spec", spec),
        ("spec_levels", spec_levels),
        ("population", pop),
    ):
        connection.register("frame_in", frame)
        connection.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame_in").fetchall()  # noqa: S608 - fixed names
        connection.unregister("frame_in")
    connection.execute(
        "CREATE OR REPLACE TABLE expected AS SELECT a.ancestor_id, d.depth, count(*) AS units_expected "
        "FROM ancestors a JOIN divisions d USING (division_id) GROUP BY ALL"
    ).fetchall()


def sqlite_offline(url: str) -> str:
    """Whether DuckDB can read the SQLite file itself (its sqlite extension must be installed)."""
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute("LOAD sqlite")
    except duckdb.Error:
        try:
            connection.execute("INSTALL sqlite")
            connection.execute("LOAD sqlite")
        except duckdb.Error as exc:
            return f"no: {str(exc).splitlines()[0][:100]}"
    if not url.startswith("sqlite:///"):
        return "the extension loads, but the database is not SQLite"
    return "yes (this script still times DuckDB on its own copy of the rows)"


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[int, int, float, int]:
    """Rows only in one result, rows in both, the largest |difference| of the values (relative to
    the value's size, so sums of millions and shares compare alike) and units_* mismatches."""
    key = ["indicator_id", "division_id", "year"]
    merged = ours.merge(theirs, on=key, how="outer", suffixes=("", "_duckdb"), indicator=True)
    lonely = int((merged["_merge"] != "both").sum())
    both = merged[merged["_merge"] == "both"]
    a = both["value"].to_numpy(dtype=float)
    b = both["value_duckdb"].to_numpy(dtype=float)
    same_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(same_nan, 0.0, np.abs(a - b) / np.maximum(np.abs(a), 1.0))
    units = 0
    for name in ("rolled_from", "units_reported", "units_expected"):
        x = both[name].astype("Float64").fillna(-1).to_numpy(dtype=float)
        y = both[f"{name}_duckdb"].astype("Float64").fillna(-1).to_numpy(dtype=float)
        units += int((x != y).sum())
    return lonely, len(both), float(np.nan_to_num(diff, nan=np.inf).max()) if len(diff) else 0.0, units


# ---------------------------------------------------------------------------------------------


def gib(size: int | None) -> str:
    return "?" if size is None else f"{size / 2**30:.2f} GiB"


def run_planwatch(engine: Engine, inputs: Inputs) -> tuple[list[Timing], pd.DataFrame, pd.DataFrame]:
    """(a) planwatch from the database, then the same in memory; the steps, the values read and the
    roll-up."""
    ids, specs, parent, level, population = inputs
    targets = targets_frame(specs)

    def rollup(values: pd.DataFrame) -> pd.DataFrame:
        return rollup_frame(values, parent=parent, level=level, specs=specs, population=population)

    def read() -> pd.DataFrame:
        with session_factory(engine)() as session:
            return load_values(session, ids)

    def end_to_end() -> list[Timing]:
        values, read_step = timed("  load_values (the database read)", read)
        rolled, rollup_step = timed("  rollup_frame (every level)", lambda: rollup(values))
        _, status_step = timed(
            "  status_frame (a target per indicator at every division)", lambda: status_frame(rolled, targets)
        )
        return [read_step, rollup_step, status_step]

    inner, total = timed("planwatch end to end from the database", end_to_end)
    gc.collect()
    values = read()
    _, without_read = timed(
        "planwatch without the database read (roll-up + status)",
        lambda: status_frame(rollup(values), targets),
    )
    rolled, only_rollup = timed(
        "planwatch rollup_frame alone (what the DuckDB query does)", lambda: rollup(values)
    )
    return [total, *inner, without_read, only_rollup], values, rolled


def run_duckdb(values: pd.DataFrame, inputs: Inputs) -> tuple[list[Timing], pd.DataFrame, float, str]:
    """(b) the roll-up as one DuckDB query on DuckDB's own copy of the rows: the result into pandas
    (as planwatch gives it), into numpy arrays, and only counted (no result handed to Python)."""
    import duckdb

    _, specs, parent, level, population = inputs
    connection = duckdb.connect()
    threads = connection.execute("SELECT current_setting('threads')").fetchall()[0][0]
    start = time.perf_counter()
    duckdb_tables(connection, values, specs, parent, level, population)
    load = time.perf_counter() - start
    theirs, into_pandas = timed(
        "DuckDB: the roll-up as one SQL query into pandas, best of 3",
        lambda: connection.sql(ROLLUP_SQL).df(),
        REPEAT,
    )
    _, into_numpy = timed(
        "DuckDB: the same query into numpy arrays, best of 3",
        lambda: connection.sql(ROLLUP_SQL).fetchnumpy(),
        REPEAT,
    )
    _, counted = timed(
        "DuckDB: the same query, counted only, best of 3",
        lambda: connection.sql(f"SELECT count(*) FROM ({ROLLUP_SQL})").fetchall(),  # noqa: S608 - our query
        REPEAT,
    )
    connection.close()
    return [into_pandas, into_numpy, counted], theirs, load, f"DuckDB {duckdb.__version__}, {threads} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--values", type=int, default=VALUES, help=f"at most {VALUES:,} (the default)")
    parser.add_argument("--database-url", help="an empty database, or one this script filled before")
    args = parser.parse_args()
    if not 0 < args.values <= VALUES:
        raise SystemExit(f"--values: from 1 to {VALUES:,}")
    engine, how = database(args)
    print(how, flush=True)
    url = engine.url.render_as_string(hide_password=True)
    inputs = planwatch_inputs(engine)
    memory = (
        "peak RSS (VmHWM, reset before each step)" if reset_peak() else "peak RSS of the process (getrusage)"
    )

    steps, values, rolled = run_planwatch(engine, inputs)
    offline = sqlite_offline(url) if engine.dialect.name == "sqlite" else "not asked (not SQLite)"
    duck_steps, theirs, duck_load, duck_name = run_duckdb(values, inputs)
    del values
    duck = min(duck_steps[:2], key=lambda step: step.wall)  # the whole result in Python's hands
    steps += duck_steps
    lonely, both, worst, units = compare(rolled, theirs)

    rows = args.values
    print(
        f"\nEvaluation of {len(inputs[0])} indicators from {rows:,} values in {engine.dialect.name} "
        f"({os.cpu_count()} CPUs; {duck_name})"
    )
    print(f"  Can DuckDB read the SQLite file itself (sqlite extension)? {offline}")
    print(
        f"  DuckDB gets the rows load_values read, copied into its own tables in {duck_load:.2f} s (not in its time)"
    )
    print(f"  memory: {memory}; 'added' = the peak minus the resident memory when the step began")
    print("  '÷ DuckDB' divides by DuckDB's faster time handing the whole result to Python (pandas or numpy)")
    print(
        f"  {'':<62} {'rows':>11} {'wall s':>8} {'CPU s':>8} {'rows/s':>12} {'÷ DuckDB':>9} {'peak':>10} {'added':>10}"
    )
    for step in steps:
        added = None if step.peak is None or step.base is None else step.peak - step.base
        print(
            f"  {step.label:<62} {rows:>11,} {step.wall:8.2f} {step.cpu:8.2f} {rows / step.wall:12,.0f} "
            f"{step.wall / duck.wall:9.2f} {gib(step.peak):>10} {gib(added):>10}"
        )
    print(f"  rows out: planwatch {len(rolled):,}, DuckDB {len(theirs):,}")
    print(
        f"  agreement: {both:,} (indicator, division, year) values in both, {lonely:,} in one only; largest "
        f"|difference| {worst:.3g} (relative to max(|value|, 1)); rolled_from/units_* mismatches: {units}"
    )
    rollup_ratio = steps[5].wall / duck.wall
    end_ratio = steps[0].wall / duck.wall
    peak = max((s.peak or 0) for s in steps[:6])
    print(
        f"  goal 'within 2x of DuckDB': roll-up in memory {rollup_ratio:.2f}x "
        f"({'met' if rollup_ratio <= 2 else 'NOT met'}); end to end from the database {end_ratio:.2f}x "
        f"({'met' if end_ratio <= 2 else 'NOT met'}; DuckDB's own load excluded)"
    )
    print(
        f"  goal 'peak memory under 8 GiB': {'met' if peak < 8 * 2**30 else 'NOT met'} (planwatch peak {gib(peak)})"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
