"""Importing a 1,000,000-row CSV: planwatch (every row validated, every value audited and
hash-chained) beside a plain pandas load and DuckDB.

Prints a table; asserts nothing. The input is synthetic: six monthly indicators reported by every
community of Chengdu (3,047) for 60 months (2021-01 to 2025-12), cut at 1,000,000 rows, all valid.
The database is SQLite in a temporary folder unless ``--database-url`` names an empty one (e.g. an
empty PostgreSQL database; it is left filled).

    .venv/bin/python benchmarks/ingest.py [--rows N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from planwatch.accounts.principal import local_operator
from planwatch.config import Settings
from planwatch.datasets import chengdu_path
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import division_tree, load_divisions
from planwatch.ingest.service import import_file, verify_data_audit
from planwatch.models import DataValue, Division
from planwatch.models.enums import Channel, DivisionLevel
from planwatch.plans.service import load_plan_file

ROWS = 1_000_000
INDICATORS = ("bm_visits", "bm_events", "bm_volunteers", "bm_meals", "bm_calls", "bm_repairs")
MONTHS = [f"{year}-{month:02d}" for year in range(2021, 2026) for month in range(1, 13)]
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
"""The import's clock: every month of 2021-2025 has begun, and (with 3,660 expiry days) is open."""

PLAN = """\
format: planwatch.plan/v1
plan: {code: BENCH, title: 导入基准测试规划, kind: special, period: [2021, 2025], base_year: 2020, scope: "510100"}
indicators:
""" + "".join(
    f"  - {{code: {code}, name: 基准指标{n}, unit: 人次, direction: higher, frequency: monthly, "
    "period_aggregation: sum, aggregation: {method: sum}, levels: [community]}\n"
    for n, code in enumerate(INDICATORS, start=1)
)


def build(engine: Engine, folder: Path) -> list[str]:
    """Schema, divisions (as the demo loads them) and the synthetic catalogue; the community codes."""
    migrate(engine)
    plan = folder / "bench_plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with transaction(session_factory(engine)) as session:
        load_divisions(
            session,
            chengdu_path("divisions.csv"),
            boundaries=chengdu_path("districts.geojson"),
            population_csv=chengdu_path("population.csv"),
        )
        load_plan_file(session, plan)
        return list(
            session.scalars(
                select(Division.code)
                .where(Division.level == DivisionLevel.community, Division.valid_to.is_(None))
                .order_by(Division.code)
            )
        )


def write_csv(path: Path, communities: list[str], rows: int) -> None:
    """Every (indicator, month, community), cut at ``rows``; plausible counts (few outliers)."""
    per_indicator = len(MONTHS) * len(communities)
    if rows > per_indicator * len(INDICATORS):
        raise SystemExit(f"at most {per_indicator * len(INDICATORS):,} rows")
    index = np.arange(rows)
    rng = np.random.default_rng(14)
    size = rng.lognormal(6, 0.4, len(communities))  # each community keeps its own level
    frame = pd.DataFrame(
        {
            "indicator": np.asarray(INDICATORS)[index // per_indicator],
            "division": np.asarray(communities)[index % len(communities)],
            "period": np.asarray(MONTHS)[(index // len(communities)) % len(MONTHS)],
            "value": np.round(size[index % len(communities)] * rng.uniform(0.8, 1.2, rows)).astype(int),
        }
    )
    frame.to_csv(path, index=False)


def timed(func: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds (the CPU time stays honest on a busy machine;
    a PostgreSQL server's work is not in it)."""
    start, cpu = time.perf_counter(), time.process_time()
    func()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        engine = make_engine(url)
        if inspect(engine).get_table_names():
            raise SystemExit(f"{url}: the database is not empty; give an empty one")
        start = time.perf_counter()
        communities = build(engine, folder)
        csv_path = folder / "values.csv"
        write_csv(csv_path, communities, args.rows)
        setup = time.perf_counter() - start
        data = csv_path.read_bytes()
        settings = Settings(database_url=url, entry_expiry_days=3660, import_max_rows=args.rows)

        phases: list[tuple[float, str]] = []

        def planwatch_import() -> None:
            begun = time.perf_counter()
            with transaction(session_factory(engine)) as session:
                report = import_file(
                    session,
                    data,
                    csv_path.name,
                    principal=local_operator(division_tree(session), "cli:bench"),
                    channel=Channel.file,
                    settings=settings,
                    now=NOW,
                    on_phase=lambda phase: phases.append((time.perf_counter() - begun, phase)),
                )
            phases.append((time.perf_counter() - begun, "committed"))
            if report.status.value != "applied" or report.inserted != args.rows:
                raise SystemExit(f"the import was {report.status.value}: {report.errors[:3]}")

        def plain_load() -> None:
            pd.read_csv(csv_path, dtype={"division": str}).to_sql(
                "plain_values", engine, index=False, if_exists="fail"
            )

        rows = [("planwatch import_file (validation, audit, hash chain)", timed(planwatch_import))]
        rows.append(("pandas.read_csv + DataFrame.to_sql (fresh table, no index)", timed(plain_load)))
        try:
            import duckdb

            connection = duckdb.connect()
            rows.append(
                (
                    "DuckDB read_csv into an in-memory table",
                    timed(lambda: connection.execute(f"CREATE TABLE v AS FROM read_csv('{csv_path}')")),
                )
            )
        except ImportError:
            rows.append(("DuckDB (not installed: pip install -e '.[bench]')", (math.nan, math.nan)))

        with session_factory(engine)() as session:
            stored = session.scalar(select(func.count()).select_from(DataValue))
            check = verify_data_audit(session)
        engine.dispose()

    print(
        f"Import of {args.rows:,} values ({len(data):,} bytes of CSV) into {engine.dialect.name}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  {'set-up: schema, divisions, catalogue, CSV':<58} {setup:8.2f} s")
    for seconds, phase in phases:
        print(f"    {f'at {seconds:.2f} s: {phase}':<56}")
    print(f"  {'':<58} {'wall':>10} {'values/s':>12} {'CPU':>10}")
    for label, (seconds, cpu) in rows:
        print(f"  {label:<58} {seconds:8.2f} s {args.rows / seconds:12,.0f} {cpu:8.2f} s")
    ratio = rows[0][1][0] / rows[1][1][0]
    print(f"  {'ratio planwatch / pandas, wall (goal: at most 2)':<58} {ratio:8.2f}")
    print(f"  stored values: {stored:,}; {check.message}")


if __name__ == "__main__":
    main()
