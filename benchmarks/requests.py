"""Open311 intake under load: sustained ``POST /open311/v2/requests.json`` per second and latency
(p50, p99) on SQLite and on PostgreSQL, side by side.

Prints a table; asserts nothing. For each backend a fresh database is built as the demo builds
it (divisions with their boundaries, the Chengdu plan's departments, the request types and
routing rules, and with ``--history`` the simulated address points and a year of simulated
requests the classifier trains on); the app is served by uvicorn on loopback in one process, and
a second process POSTs requests over several concurrent connections (httpx): random request
types (the road-facility type with its required attribute), points drawn inside the districts'
boundaries, Chinese descriptions with a phone number in some. Every POST is the whole intake:
api_key check, rate limit (raised out of the way: ``requests_per_minute``), validation,
location, type suggestion, routing, deadlines, two timeline events, one transaction.

PostgreSQL runs when ``--postgres-url`` / ``PLANWATCH_BENCH_POSTGRES_URL`` or the local
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` is reachable; a scratch database
``planwatch_bench_requests`` is created there (and dropped again).

    .venv/bin/python benchmarks/requests.py [--seconds 20] [--warmup 3] [--connections 8]
        [--history 50000] [--postgres-url URL] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import httpx
import shapely
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from planwatch.config import Settings
from planwatch.datasets import chengdu_path
from planwatch.db import make_engine, migrate, session_factory, transaction
from planwatch.divisions.service import load_divisions
from planwatch.models import ServiceRequest
from planwatch.models.enums import RequestChannel
from planwatch.plans.service import load_plan_file
from planwatch.service_requests.catalogue import load_service_types
from planwatch.service_requests.service import create_client

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH = "planwatch_bench_requests"
HISTORY_YEAR = 2026
TYPES = (
    "sanitation", "road_facility", "property", "elderly_care", "childcare", "education", "health",
    "employment", "housing", "public_space",
)  # fmt: skip
PLACES = ("幸福小区", "锦华苑", "东湖花园", "玉林北路", "九眼桥", "府南新区", "沙河堡", "光华村")
PROBLEMS = (
    "门口的垃圾已经三天没人清运了,气味很大",
    "路边井盖缺失,晚上很危险,请尽快处理",
    "小区电梯经常停运,老人上下楼困难",
    "附近没有老年食堂,希望增设社区助餐点",
    "托育机构收费太高,托位也不够",
    "孩子入学划片不清楚,咨询学位情况",
    "社区卫生服务中心排队时间太长",
    "公园里的健身器材坏了很久没人修",
)


@dataclass(frozen=True)
class Result:
    backend: str
    ok: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    stored: int
    setup_s: float
    first_s: float
    """The first POST: builds the locator and trains the classifier on the history."""
    history: int

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=1000, method="inclusive")[round(q * 1000) - 1]


def points_inside_districts(n: int, seed: int = 7) -> list[tuple[float, float]]:
    """``n`` random (lat, lon) points inside the districts' boundaries."""
    data = json.loads(chengdu_path("districts.geojson").read_text(encoding="utf-8"))
    area = shapely.union_all([shapely.from_geojson(json.dumps(f["geometry"])) for f in data["features"]])
    shapely.prepare(area)
    west, south, east, north = area.bounds
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    points: list[tuple[float, float]] = []
    while len(points) < n:
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if shapely.contains_xy(area, lon, lat):
            points.append((round(lat, 6), round(lon, 6)))
    return points


def build(url: str, settings: Settings, history: int, folder: Path) -> str:
    """The demo's catalogue (and simulated history) in an empty database; returns an api_key."""
    engine = make_engine(url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            load_divisions(
                session,
                chengdu_path("divisions.csv"),
                boundaries=chengdu_path("districts.geojson"),
                population_csv=chengdu_path("population.csv"),
            )
            load_plan_file(session, chengdu_path("plan.yaml"))
            load_service_types(session, chengdu_path("service_types.yaml"))
        if history:
            from planwatch.datasets.coverage_demo import build_coverage_demo, write_coverage_demo
            from planwatch.datasets.requests_demo import install_requests_demo

            write_coverage_demo(build_coverage_demo(scale=0.05), folder)
            with transaction(session_factory(engine)) as session:
                install_requests_demo(
                    session, coverage_dir=folder, year=HISTORY_YEAR, n=history, settings=settings
                )
        with transaction(session_factory(engine)) as session:
            _, key = create_client(session, "benchmark", actor="benchmark", now=datetime.now(UTC))
        return key
    finally:
        engine.dispose()


def serve(settings_json: str, port: int) -> None:
    """The app under uvicorn on loopback (the server process)."""
    import uvicorn

    from planwatch.web.app import create_app

    settings = Settings.model_validate_json(settings_json)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_until_up(base: str, process: multiprocessing.process.BaseProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.is_alive():
            raise SystemExit("the server process exited; see its output above")
        try:
            if httpx.get(f"{base}/open311/v2/services.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s")


def form(rng: random.Random, key: str, points: list[tuple[float, float]]) -> dict[str, str]:
    lat, lon = rng.choice(points)
    code = rng.choice(TYPES)
    description = f"{rng.choice(PLACES)}{rng.choice(PROBLEMS)}"
    if rng.random() < 0.3:
        description += f",联系电话1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"
    data = {
        "api_key": key,
        "service_code": code,
        "lat": str(lat),
        "long": str(lon),
        "description": description,
    }
    if code == "road_facility":
        data["attribute[hazard]"] = rng.choice(("yes", "no"))
    return data


async def _load(base: str, key: str, points: list[tuple[float, float]], warmup: float, seconds: float,
                connections: int) -> tuple[list[float], int, int]:  # fmt: skip
    latencies: list[float] = []
    ok = errors = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker(index: int) -> None:
            nonlocal ok, errors
            rng = random.Random(index)  # noqa: S311 - test data, not security
            while (sent := time.perf_counter()) < stop_at:
                response = await client.post("/open311/v2/requests.json", data=form(rng, key, points))
                done = time.perf_counter()
                if sent < measure_from:
                    continue
                if response.status_code == 200:
                    ok += 1
                    latencies.append((done - sent) * 1000)
                else:
                    errors += 1
                    if errors <= 3:
                        print(f"  {response.status_code}: {response.text[:200]}", flush=True)

        await asyncio.gather(*(worker(i) for i in range(connections)))
    return latencies, ok, errors


def load(base: str, key: str, points: list[tuple[float, float]], warmup: float, seconds: float,
         connections: int, out: Queue[Any]) -> None:  # fmt: skip
    """The client process: ``connections`` concurrent POST loops for ``warmup`` + ``seconds``."""
    out.put(asyncio.run(_load(base, key, points, warmup, seconds, connections)))


def run_backend(
    backend: str, url: str, args: argparse.Namespace, points: list[tuple[float, float]]
) -> Result:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=url,
            data_key=Fernet.generate_key().decode(),
            cookie_secure=False,
            requests_per_minute=10**9,  # the limiter still counts every POST, it just never refuses
        )
        begun = time.perf_counter()
        key = build(url, settings, args.history, Path(folder))
        setup = time.perf_counter() - begun
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = context.Process(target=serve, args=(settings.model_dump_json(), port), daemon=True)
        server.start()
        try:
            wait_until_up(base, server)
            # the first POST builds the locator and trains the classifier on the history: not load
            rng = random.Random(0)  # noqa: S311 - test data, not security
            begun = time.perf_counter()
            first = httpx.post(f"{base}/open311/v2/requests.json", data=form(rng, key, points), timeout=600)
            first_s = time.perf_counter() - begun
            if first.status_code != 200:
                raise SystemExit(f"the first POST failed: {first.status_code} {first.text[:300]}")
            queue: Queue[Any] = context.Queue()
            client = context.Process(
                target=load, args=(base, key, points, args.warmup, args.seconds, args.connections, queue)
            )
            client.start()
            latencies, ok, errors = queue.get(timeout=args.warmup + args.seconds + 300)
            client.join()
        finally:
            server.terminate()
            server.join(10)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                stored = session.scalar(
                    select(func.count(ServiceRequest.id)).where(
                        ServiceRequest.channel == RequestChannel.open311, ServiceRequest.simulated.is_(False)
                    )
                )
                history = session.scalar(
                    select(func.count(ServiceRequest.id)).where(ServiceRequest.simulated.is_(True))
                )
        finally:
            engine.dispose()
    return Result(
        backend, ok, errors, args.seconds, latencies, int(stored or 0), setup, first_s, int(history or 0)
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_postgres(base_url: str) -> str | None:
    """A fresh scratch database on the server of ``base_url``, or None if it cannot be reached."""
    url = make_url(base_url)
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
        admin.dispose()
    except Exception as exc:  # any failure means: no PostgreSQL for this run
        print(
            f"PostgreSQL at {url.render_as_string(hide_password=True)} not used: {exc.__class__.__name__}: {exc}"
        )
        return None
    return url.set(database=SCRATCH).render_as_string(hide_password=False)


def drop_scratch(base_url: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per backend")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of the client")
    parser.add_argument(
        "--history", type=int, default=50_000, help="simulated requests in the database (0: none)"
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("PLANWATCH_BENCH_POSTGRES_URL", LOCAL_POSTGRES)
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    points = points_inside_districts(500)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(run_backend("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args, points))
    if not args.no_postgres and (url := scratch_postgres(args.postgres_url)):
        try:
            results.append(run_backend("postgresql", url, args, points))
        finally:
            drop_scratch(args.postgres_url)

    print(
        f"Open311 POST /open311/v2/requests.json on loopback: {args.connections} connections from a second "
        f"process, {args.seconds:g} s measured after {args.warmup:g} s of warm-up, {os.cpu_count()} CPUs"
    )
    header = f"  {'backend':<12} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ok':>7} {'errors':>7} {'stored':>7} {'history':>8} {'set-up s':>9} {'1st POST s':>10}"
    print(header)
    for r in results:
        top = max(r.latencies_ms) if r.latencies_ms else float("nan")
        print(
            f"  {r.backend:<12} {r.ok / r.seconds:11.1f} {r.percentile(0.5):8.1f} {r.percentile(0.99):8.1f} "
            f"{top:8.1f} {r.ok:7,} {r.errors:7,} {r.stored:7,} {r.history:8,} {r.setup_s:9.1f} {r.first_s:10.1f}"
        )
    print(
        "  stored: requests the server committed (the first POST and the warm-up included); errors: answers "
        "other than 200;\n  history: simulated requests in the database; 1st POST: builds the locator and "
        "trains the type classifier on the history"
    )


if __name__ == "__main__":
    main()
