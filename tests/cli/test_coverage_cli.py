"""``planwatch coverage``: build a network from a real file, list the standards, compute, show,
site, and the messages bad input gets."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planwatch.cli.main import app
from tests.conftest import DATA_KEY, build_demo_database, database_url


@pytest.fixture(scope="module")
def demo(backend: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    url = database_url(backend, tmp_path_factory, "coverage_cli")
    files = tmp_path_factory.mktemp("coverage_cli_files")
    build_demo_database(url, files)
    return url, files


def cli(url: str, *args: str) -> tuple[int, str, str]:
    env = {"PLANWATCH_DATABASE_URL": url, "PLANWATCH_DATA_KEY": DATA_KEY, "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_network_from_a_real_street_file(demo: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = demo
    gpkg = Path(str(resources.files("momepy") / "datasets" / "bubenec.gpkg"))
    code, out, err = cli(
        url, "coverage", "network", str(gpkg), "--layer", "streets", "--out", str(tmp_path / "b.npz")
    )
    assert code == 0, err
    assert "wrote" in out
    assert "EPSG:326" in out  # projected to the local UTM zone
    assert (tmp_path / "b.npz").exists()
    code, _, err = cli(
        url, "coverage", "network", str(tmp_path / "nope.geojson"), "--out", str(tmp_path / "x.npz")
    )
    assert code == 1
    assert "nope.geojson: no such file" in err


def test_standards_are_listed_with_their_verification_mark(demo: tuple[str, Path]) -> None:
    url, _ = demo
    code, out, err = cli(url, "coverage", "standards", "--json")
    assert code == 0, err
    circles = {c["code"]: c for c in json.loads(out)}
    assert circles["cd_fire_5min"]["mode"] == "drive"
    assert all(c["verified"] in {"checked", "secondary", "unverified"} for c in circles.values())


def test_compute_show_and_site(demo: tuple[str, Path]) -> None:
    url, files = demo
    code, out, err = cli(
        url,
        "coverage",
        "compute",
        "--network",
        str(files / "network.npz"),
        "--origins",
        str(files / "origins.csv"),
        "--facilities",
        str(files / "facilities.csv"),
        "--year",
        "2025",
        "--circle",
        "cd_child_5min_activity",
        "--json",
    )
    assert code == 0, err
    run = json.loads(out)
    assert run["simulated"] is True
    assert [c["code"] for c in run["circles"]] == ["cd_child_5min_activity"]
    assert run["written"]["unchanged"] > 0  # the demo wrote the same values already
    code, out, err = cli(
        url, "coverage", "show", str(run["id"]), "--circle", "cd_child_5min_activity", "--level", "district"
    )
    assert code == 0, err
    assert "锦江区" in out
    code, out, err = cli(url, "coverage", "runs")
    assert code == 0, err
    assert "模拟" in out
    code, out, err = cli(
        url,
        "coverage",
        "site",
        "--circle",
        "cd_child_5min_activity",
        "--candidates",
        str(files / "candidates.csv"),
        "--type",
        "children_complex",
        "--p",
        "3",
        "--method",
        "greedy",
        "--json",
    )
    assert code == 0, err
    siting = json.loads(out)
    assert len(siting["sites"]) == 3
    assert siting["share_after"] > siting["share_before"]


def test_site_needs_p_or_cover_all_and_compute_a_network_file(demo: tuple[str, Path], tmp_path: Path) -> None:
    url, files = demo
    code, _, err = cli(
        url, "coverage", "site", "--circle", "cd_fire_5min", "--candidates", str(files / "candidates.csv")
    )
    assert code == 1
    assert "--p N" in err
    code, _, err = cli(
        url,
        "coverage",
        "compute",
        "--network",
        str(tmp_path / "none.npz"),
        "--origins",
        str(files / "origins.csv"),
        "--facilities",
        str(files / "facilities.csv"),
        "--year",
        "2025",
    )
    assert code == 1
    assert "none.npz: no such network file" in err
    code, _, err = cli(
        url,
        "coverage",
        "compute",
        "--network",
        str(files / "network.npz"),
        "--origins",
        str(files / "origins.csv"),
        "--facilities",
        str(files / "facilities.csv"),
        "--year",
        "2025",
        "--cluster",
        "nonsense",
    )
    assert code == 1
    assert "--cluster nonsense: cannot reach the Dask scheduler" in err
