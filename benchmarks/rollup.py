"""Ratio roll-up and whole-plan evaluation timings, planwatch beside pandas and DuckDB.

Prints a table; asserts nothing. The roll-up input is synthetic: one ratio indicator reported by
every community of Chengdu (3,047) every month for five years, rolled up to one city value per year.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from planwatch.datasets import CHENGDU_PLAN_CODE, chengdu_path
from planwatch.datasets.simulate import read_simulation_file, simulate
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.evaluation.rollup import aggregate
from planwatch.evaluation.service import evaluate_plan, get_plan
from planwatch.plans.service import load_plan_file

UNITS, YEARS, MONTHS = 3047, 5, 12


def best_of(func: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def rollup_frame() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    n = UNITS * YEARS * MONTHS
    den = rng.integers(50, 5000, n).astype(float)
    return pd.DataFrame(
        {
            "year": np.repeat(np.arange(2021, 2021 + YEARS), UNITS * MONTHS),
            "numerator": np.floor(den * rng.uniform(0.2, 0.9, n)),
            "denominator": den,
        }
    )


def main() -> None:
    frame = rollup_frame()

    def planwatch_kernel() -> dict[int, float]:  # grouping included, as the service does it
        years = frame["year"].to_numpy()
        num, den = frame["numerator"].to_numpy(), frame["denominator"].to_numpy()
        return {
            int(year): aggregate(
                "ratio", [], numerators=num[years == year], denominators=den[years == year], factor=100
            )
            for year in np.unique(years)
        }

    def pandas_groupby() -> pd.Series:
        sums = frame.groupby("year")[["numerator", "denominator"]].sum()
        return sums["numerator"] / sums["denominator"] * 100

    rows = [("planwatch.evaluation.rollup.aggregate", best_of(planwatch_kernel))]
    rows.append(("pandas groupby-sum", best_of(pandas_groupby)))
    try:
        import duckdb

        connection = duckdb.connect()
        connection.register("frame", frame)
        query = "SELECT year, sum(numerator) / sum(denominator) * 100 FROM frame GROUP BY year"
        rows.append(("DuckDB SQL", best_of(lambda: connection.execute(query).fetchall())))
    except ImportError:
        rows.append(("DuckDB SQL (not installed: pip install -e '.[bench]')", float("nan")))
    ours = planwatch_kernel()
    peer = pandas_groupby()
    if any(abs(ours[y] - peer[y]) > 1e-9 for y in ours):
        raise SystemExit("the kernels disagree: planwatch's roll-up is wrong")

    print(f"Ratio roll-up: {len(frame):,} monthly community values → {YEARS} yearly city values (best of 5)")
    for name, seconds in rows:
        print(f"  {name:<58} {seconds * 1000:9.2f} ms")

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        start = time.perf_counter()
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            load_divisions(
                session,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
            )
            load_plan_file(session, chengdu_path("plan.yaml"))
            simulate(
                session,
                get_plan(session, CHENGDU_PLAN_CODE),
                read_simulation_file(chengdu_path("simulation.yaml")),
            )
        setup = time.perf_counter() - start
        with session_factory(engine)() as session:
            plan = get_plan(session, CHENGDU_PLAN_CODE)
            seconds = best_of(lambda: evaluate_plan(session, plan, 2023))
        engine.dispose()
    print("Chengdu demo on SQLite (48 targets, 3,329 divisions)")
    print(f"  {'set-up: migrate + divisions + catalogue + simulation':<58} {setup * 1000:9.2f} ms")
    print(f"  {'evaluate_plan(year=2023), best of 5':<58} {seconds * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
