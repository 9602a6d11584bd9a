"""The data-collection API over real HTTP (uvicorn on a local port): values by key, batches, file
imports and their reports, templates, scope, anonymous callers and the upload limit."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from openpyxl import load_workbook

from planwatch.models.enums import Role
from tests.conftest import LiveServer, make_user, run_live_server, settings_for
from tests.ingest.factories import (
    CITY,
    JINJIANG,
    OPEN_2025,
    QINGYANG,
    Clock,
    collection_database,
    csv_bytes,
    district_rows,
    xlsx_bytes,
)

BEDS = "inclusive_elderly_beds"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Site:
    server: LiveServer
    url: str
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def site(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = collection_database(backend, tmp_path_factory, "data_api")
    passwords = {
        "planner_d": make_user(url, "planner_d", [Role.planner], capture=[CITY]),
        "jinjiang_d": make_user(url, "jinjiang_d", [Role.district_reporter], capture=[JINJIANG]),
        "reviewer_d": make_user(url, "reviewer_d", [Role.reviewer], view=[CITY]),
        "jinjiang_planner_d": make_user(url, "jinjiang_planner_d", [Role.planner], capture=[JINJIANG]),
    }
    for server in run_live_server(settings_for(url), clock=Clock(OPEN_2025)):
        yield Site(server, url, passwords)


@contextmanager
def client(site: Site, username: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.server.url, timeout=60) as http:
        if username is not None:
            response = http.post(
                "/api/session", json={"username": username, "password": site.passwords[username]}
            )
            assert response.status_code == 200, response.text
            http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield http


def upload(http: httpx.Client, data: bytes, name: str, **params: object) -> httpx.Response:
    kind = XLSX if name.endswith(".xlsx") else "text/csv"
    return http.post("/api/data-values/import", files={"file": (name, data, kind)}, params=params)


def key_path(division: str, period: str = "2025", indicator: str = BEDS) -> str:
    return f"/api/data-values/{indicator}/{division}/{period}"


# —— values by key ——————————————————————————————————————————————————————————————————————


def test_put_get_history_delete_by_key(site: Site) -> None:
    path = key_path("510106")
    with client(site, "planner_d") as http:
        put = http.put(path, json={"value": 12, "comment": "初报"})
        assert put.status_code == 200, put.text
        body = put.json()
        assert (body["value"], body["status"], body["source"], body["recorded_by"]) == (
            12,
            "draft",
            "reported",
            "planner_d",
        )
        assert http.put(path, json={"value": 13}).json()["comment"] == "初报"  # a missing comment is kept
        assert http.get(path).json()["value"] == 13
        assert http.get(key_path("510106", "2025年")).json()["period"] == "2025"
        assert http.get(key_path("510106", "2025Q1")).status_code == 422
        assert http.put(key_path("510106", "2025年"), json={"value": 13}).status_code == 200  # same key
        history = http.get(f"{path}/history").json()
        assert [(h["action"], h["old_value"], h["new_value"], h["channel"]) for h in history] == [
            ("update", 12, 13, "api"),
            ("create", None, 12, "api"),
        ]
        assert http.delete(path).status_code == 204
        gone = http.get(path)
        assert gone.status_code == 404
        assert http.delete(path).status_code == 404
        assert http.get(f"{path}/history").json()[0]["action"] == "delete"
        listed = http.get("/api/data-values", params={"division": "510106"}).json()
        assert listed == []


def test_put_refuses_bad_values_and_unknown_fields(site: Site) -> None:
    path = key_path("510107")
    with client(site, "planner_d") as http:
        bad = http.put(path, json={"value": -3})
        assert bad.status_code == 422
        [problem] = bad.json()["errors"]
        assert (problem["row"], problem["column"], problem["value"]) == (1, "value", "-3")
        assert "cannot be below 0" in problem["message"]
        for body in (
            {"value": 3, "status": "approved"},
            {"value": 3, "skip_audit": True},
            {"value": 3, "recorded_by": "x"},
        ):
            refused = http.put(path, json=body)
            assert refused.status_code == 422, body
            assert refused.json()["error"]["type"] == "ValidationError"
        for body in ({}, {"comment": "只写备注"}, {"value": None}):  # no number: a mistake, not a no-op
            empty = http.put(path, json=body)
            assert empty.status_code == 422, body
            assert "no value given" in empty.json()["errors"][0]["message"]
        wrong_period = http.put(key_path("510107", "2025Q3"), json={"value": 3})
        assert wrong_period.status_code == 422
        assert "not a annual period" in wrong_period.json()["errors"][0]["message"]
        assert http.get(path).status_code == 404


def test_nul_characters_answer_422_not_500(site: Site) -> None:
    """PostgreSQL cannot store NUL; SQLite can: either way the caller gets an answer, never a 500."""
    with client(site, "planner_d") as http:
        put = http.put(key_path("510131"), json={"value": 7, "comment": "a\u0000b"})
        assert put.status_code in {200, 422}, put.text
        for path in (key_path("510131", indicator="bed%00s"), "/api/data-values?indicator=a%00b"):
            answer = http.get(path)
            assert answer.status_code in {200, 404, 422}, (path, answer.text)
            assert "error" in answer.json() or isinstance(answer.json(), list)


def test_batch_is_all_or_none(site: Site) -> None:
    items = [
        {"indicator": BEDS, "division": code, "period": "2025", "value": 5}
        for code in ("510108", "510112", "510113")
    ]
    with client(site, "planner_d") as http:
        broken = [*items[:2], {**items[2], "value": "many"}]
        refused = http.post("/api/data-values", json={"values": broken})
        assert refused.status_code == 422  # "many" is not a number: the request model refuses it
        wrong = [*items[:2], {**items[2], "division": "510104017"}]
        refused = http.post("/api/data-values", json={"values": wrong})
        assert refused.status_code == 422
        [problem] = refused.json()["errors"]
        assert (problem["row"], problem["column"]) == (3, "division")
        blank = http.post("/api/data-values", json={"values": [*items[:2], {**items[2], "value": None}]})
        assert blank.status_code == 422
        assert [p["row"] for p in blank.json()["errors"]] == [3]
        unknown = http.post("/api/data-values", json={"values": [{**items[0], "forced": True}]})
        assert unknown.status_code == 422
        assert http.post("/api/data-values", json={"values": items, "dry_run": False}).status_code == 422
        for item in items:
            assert http.get(key_path(item["division"])).status_code == 404  # nothing was written
        ok = http.post("/api/data-values", json={"values": items})
        assert ok.status_code == 200, ok.text
        assert (ok.json()["inserted"], ok.json()["errors"]) == (3, [])
        again = http.post("/api/data-values", json={"values": items}).json()
        assert (again["inserted"], again["unchanged"], again["status"]) == (0, 3, "unchanged")


def test_no_parameter_skips_the_audit(site: Site) -> None:
    with client(site) as http:
        spec = http.get("/openapi.json").json()
    names: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            names.update(p["name"] for p in operation.get("parameters", []))
    schemas = spec["components"]["schemas"]
    for name in ("ValueIn", "ItemIn", "BatchIn", "LockExceptionIn"):  # every request body of the data API
        names.update(schemas[name]["properties"])
    bodies = {
        ref.rsplit("/", 1)[-1]
        for operations in spec["paths"].values()
        for operation in operations.values()
        for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(operation.get("requestBody", {})))
    }
    for name in bodies:
        names.update(schemas[name].get("properties", {}))
    assert "dry_run" in names
    assert not [n for n in names if re.search(r"skip|audit|force|bypass", n, re.IGNORECASE)], names
    assert "forced" in json.dumps(spec["components"]["schemas"]["ReportOut"])  # reported, never asked for
    assert not re.search(r"skip\w*audit", json.dumps(spec), re.IGNORECASE)


def test_out_of_scope_division_is_404_and_leaks_nothing(site: Site) -> None:
    secret = key_path(QINGYANG, indicator="new_public_places_accessible_rate")
    with client(site, "planner_d") as http:
        response = http.put(secret, json={"value": 87.5, "numerator": 35, "denominator": 40})
        assert response.status_code == 200, response.text
        import_id = upload(http, csv_bytes([(BEDS, QINGYANG, "2025", 4321, "", "", "")]), "qy.csv").json()[
            "import_id"
        ]
    with client(site, "jinjiang_d") as http:
        for response in (
            http.get(secret),
            http.get(f"{secret}/history"),
            http.delete(secret),
            http.get(f"/api/imports/{import_id}"),
            http.get(f"/api/imports/{import_id}/report.xlsx"),
        ):
            assert response.status_code == 404, response.request.url
            assert "87.5" not in response.text
            assert "4321" not in response.text
        assert http.get("/api/data-values", params={"division": QINGYANG}).json() == []
        assert all(v["division"].startswith(JINJIANG) for v in http.get("/api/data-values").json())
        write = http.put(secret, json={"value": 1, "numerator": 1, "denominator": 100})
        assert write.status_code == 422
        assert "outside your scope" in write.json()["errors"][0]["message"]
        assert "87.5" not in write.text
    with client(site, "jinjiang_planner_d") as http:  # approves its district, not the city's files
        assert http.get(f"/api/imports/{import_id}").status_code == 404
        assert http.get(f"/api/imports/{import_id}/report.xlsx").status_code == 404
        assert http.get(secret).status_code == 404
    with client(site, "planner_d") as http:
        assert http.get(secret).json()["value"] == 87.5
        assert http.get(f"/api/imports/{import_id}").status_code == 200


def test_anonymous_and_read_only_callers_cannot_write(site: Site) -> None:
    path = key_path("510114")
    with client(site) as http:
        assert http.put(path, json={"value": 1}).status_code == 403
        assert http.delete(path).status_code == 403
        assert (
            http.post(
                "/api/data-values",
                json={"values": [{"indicator": BEDS, "division": "510114", "period": "2025", "value": 1}]},
            ).status_code
            == 403
        )
        refused = upload(http, csv_bytes(district_rows()), "anon.csv")
        assert refused.status_code == 403
        assert "sign in first" in refused.json()["error"]["message"]
        assert (
            http.get("/api/data-values/template", params={"year": 2025, "division": JINJIANG}).status_code
            == 403
        )
    with client(site, "reviewer_d") as http:
        assert http.put(path, json={"value": 1}).status_code == 403
        assert upload(http, csv_bytes(district_rows()), "r.csv").status_code == 403
    with client(site, "planner_d") as http:
        assert http.get(path).status_code == 404


# —— file imports ————————————————————————————————————————————————————————————————————————


def test_import_returns_the_report_and_dry_run_writes_nothing(site: Site) -> None:
    rows = [(BEDS, "510115", "2025", 20, "", "", "张"), (BEDS, "510116", "2025", "1,234", "", "", "")]
    with client(site, "planner_d") as http:
        dry = upload(http, csv_bytes(rows), "beds.csv", dry_run=True)
        assert dry.status_code == 200, dry.text
        assert (dry.json()["status"], dry.json()["inserted"]) == ("dry_run", 2)
        assert http.get(key_path("510115")).status_code == 404
        done = upload(http, xlsx_bytes(rows), "beds.xlsx")
        assert done.status_code == 200, done.text
        report = done.json()
        assert {"inserted", "updated", "unchanged", "errors"} <= set(report)
        assert (report["inserted"], report["updated"], report["unchanged"], report["errors"]) == (2, 0, 0, [])
        assert http.get(key_path("510116")).json()["value"] == 1234
        again = upload(http, xlsx_bytes(rows), "beds.xlsx").json()
        assert (again["inserted"], again["unchanged"], again["status"]) == (0, 2, "unchanged")
        history = http.get(f"{key_path('510116')}/history").json()
        assert [(h["action"], h["channel"], h["import_id"]) for h in history] == [
            ("create", "file", report["import_id"])
        ]
        stored = http.get(f"/api/imports/{report['import_id']}").json()
        assert (stored["status"], stored["inserted"]) == ("applied", 2)


def test_rejected_import_is_422_and_the_annotated_report_marks_the_bad_cell(site: Site) -> None:
    rows = [(BEDS, "510117", "2025", 20, "", "", ""), (BEDS, "510118", "2025", -4, "", "", "")]
    with client(site, "planner_d") as http:
        response = upload(http, xlsx_bytes(rows), "bad.xlsx")
        assert response.status_code == 422
        report = response.json()
        assert report["inserted"] == 0
        [problem] = report["errors"]
        assert set(problem) == {"row", "column", "value", "message"}
        assert (problem["row"], problem["column"], problem["value"]) == (3, "数值", "-4")
        assert http.get(key_path("510117")).status_code == 404  # row 2 was not written either
        download = http.get(f"/api/imports/{report['import_id']}/report.xlsx")
        assert download.status_code == 200
        assert download.headers["content-type"] == XLSX
    workbook = load_workbook(io.BytesIO(download.content))
    sheet = workbook["数据"]
    bad = sheet["D3"]
    assert bad.value == -4
    assert bad.fill.fgColor.rgb.endswith("FFC7CE")
    assert bad.comment is not None
    assert "cannot be below 0" in bad.comment.text
    assert not sheet["D2"].fill.fgColor.rgb.endswith("FFC7CE")
    assert "cannot be below 0" in str(sheet["H3"].value)
    listed = [row[:3] for row in workbook["问题清单"].iter_rows(values_only=True) if row and row[0] == 3]
    assert listed == [(3, "数值", "-4")]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "empty (0 bytes)"),
        (b"hello", "notes.docx", "are not accepted"),
        (csv_bytes(district_rows()), "renamed.xlsx", "is text (CSV)"),
        (
            csv_bytes([(BEDS, JINJIANG, "2025")], header=("指标代码", "区划代码", "期间")),
            "nohead.csv",
            "required column 数值",
        ),
    ],
)
def test_unreadable_file_is_422_with_a_file_level_problem(
    site: Site, data: bytes, name: str, message: str
) -> None:
    with client(site, "planner_d") as http:
        response = upload(http, data, name)
        assert response.status_code == 422
        [problem] = response.json()["errors"]
        assert problem["row"] is None
        assert message in problem["message"]
        listing = http.get(f"/api/imports/{response.json()['import_id']}/report.xlsx")
        assert listing.status_code == 200  # a problem list (CSV) when the file cannot be read back


def test_template_downloads(site: Site) -> None:
    with client(site, "jinjiang_d") as http:
        xlsx = http.get("/api/data-values/template", params={"year": 2025, "division": JINJIANG})
        assert xlsx.status_code == 200, xlsx.text
        assert xlsx.headers["content-type"] == XLSX
        assert f"{JINJIANG}-2025.xlsx" in xlsx.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(xlsx.content))["数据"]
        header = [c.value for c in sheet[1]]
        assert header[:2] == ["指标代码", "指标名称"] or "指标代码" in header
        codes = {row[header.index("区划代码")] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert codes
        assert all(str(c).startswith(JINJIANG) for c in codes)
        csv = http.get(
            "/api/data-values/template", params={"year": 2025, "division": JINJIANG, "format": "csv"}
        )
        assert csv.status_code == 200
        assert csv.content.startswith(b"\xef\xbb\xbf")
        assert "指标代码" in csv.content.decode("utf-8-sig").splitlines()[0]
        other = http.get("/api/data-values/template", params={"year": 2025, "division": QINGYANG})
        assert other.status_code == 404
        filled = upload(http, xlsx.content, "template.xlsx", dry_run=True)
        assert filled.status_code == 200, filled.text  # an unfilled template is all blank rows
        assert filled.json()["blank"] > 0


# —— the body limit ——————————————————————————————————————————————————————————————————————


@pytest.fixture(scope="module")
def small_limit(site: Site) -> Iterator[LiveServer]:
    yield from run_live_server(settings_for(site.url, upload_max_bytes=4096), clock=Clock(OPEN_2025))


def test_body_over_the_limit_is_413_declared_or_streamed(site: Site, small_limit: LiveServer) -> None:
    data = csv_bytes(district_rows() * 10)
    assert len(data) > 4096
    with httpx.Client(base_url=small_limit.url, timeout=30) as http:
        signed = http.post(
            "/api/session", json={"username": "planner_d", "password": site.passwords["planner_d"]}
        )
        http.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        declared = upload(http, data, "big.csv")
        assert declared.status_code == 413
        message = declared.json()["error"]["message"]
        assert "larger than the limit of 4,096 bytes" in message, message
        assert "PLANWATCH_UPLOAD_MAX_BYTES" in message

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must cut the stream
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            for _ in range(100):
                yield b"x" * 1024
            yield b"\r\n--b--\r\n"

        streamed = http.post(
            "/api/data-values/import",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413
        assert "PLANWATCH_UPLOAD_MAX_BYTES" in streamed.json()["error"]["message"]
        small = upload(http, csv_bytes(district_rows()[:2]), "small.csv", dry_run=True)
        assert small.status_code == 200, small.text


def test_a_real_20_mb_upload_is_refused_by_the_default_limit(site: Site) -> None:
    data = csv_bytes(district_rows()) + b"x" * (20 * 10**6)
    with client(site, "planner_d") as http:
        response = upload(http, data, "huge.csv")
        assert response.status_code == 413
        assert "16 MiB" in response.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # the same 20 MB without a Content-Length
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n\r\n'
            for start in range(0, len(data), 2**20):
                yield data[start : start + 2**20]
            yield b"\r\n--b--\r\n"

        try:
            streamed = http.post(
                "/api/data-values/import",
                content=chunks(),
                headers={"Content-Type": "multipart/form-data; boundary=b"},
            )
        except (httpx.WriteError, httpx.RemoteProtocolError):
            pass  # the server answered 413 and closed the connection while the rest was on its way
        else:
            assert streamed.status_code == 413
            assert "16 MiB" in streamed.json()["error"]["message"]
        assert http.get("/api/imports/1").status_code in (200, 404)  # the server is still serving
