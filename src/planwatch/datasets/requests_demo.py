"""A year of simulated citizens' requests (模拟市民诉求) for the Chengdu demo.

Everything here is **simulated (模拟数据)**: the texts, the people, the 小区 and road names and
every step of every timeline. Only the community, street and district names are real. Each
request and each address point carries ``simulated=True``; pages show a banner for them.

The generator is pure and deterministic for a seed (``build_requests_demo``):

1. **When.** Request types are drawn by volume weight (sanitation, property, noise, traffic and
   roads lead; safety hazards are rare), days by the type's month profile (water and power peak in
   the summer; Chengdu has no central heating, so no heating requests) and the weekday, hours by a
   daytime, evening (noise) or round-the-clock (utilities, hazards) profile, in Beijing time.
2. **Where.** An address point drawn in proportion to its population (villages less often for
   urban topics such as property management), jittered a few metres.
3. **What.** A kind (咨询/求助/投诉/建议/举报/感谢/其他), a channel (12345 hotline ≈ 87 %) and a
   Chinese text from the type's templates (``chengdu/request_templates.yaml``): shared vocabulary
   between types, second topics, short vague texts and phone numbers written by the caller.
4. **How it went.** The 12345 workflow of ``planwatch.service_requests.service``: received →
   dispatched → accepted → contacted → progress → replied → closed → callback (回访), with
   answers on the call (直办), duplicates, returns (退单) and re-dispatch, transfers (转办),
   reopening (重办), late responses, overdue replies and complex cases still open at the end of
   the year; some departments and districts do worse so the dashboard has something to show.

``install_requests_demo`` writes the address points and the requests with their events in bulk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from planwatch.clock import as_utc
from planwatch.config import Settings
from planwatch.crypto import encrypt
from planwatch.datasets import chengdu_path
from planwatch.datasets._bulk import bulk_insert, python_values, table_of
from planwatch.datasets._request_templates import (
    Notes,
    RequestTemplates,
    read_request_templates,
    shipped_templates,
)
from planwatch.datasets._request_timelines import (
    ACTOR,
    DemoType,
    draw_timelines,
    timeline_frames,
    where_none,
)
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import AddressPoint, Department, Division, ServiceRequest, ServiceType
from planwatch.models.enums import DivisionLevel, RequestChannel, RequestKind
from planwatch.service_requests.catalogue import (
    DISTRICT_GOVERNMENT,
    STREET_OFFICE,
    government_code,
    read_service_types,
)
from planwatch.service_requests.routing import Router

__all__ = [
    "ACTOR",
    "ADDRESS_POINT_COLUMNS",
    "DemoType",
    "RequestTemplates",
    "RequestsDemo",
    "RequestsDemoReport",
    "address_points_from_origins",
    "build_requests_demo",
    "demo_types_from_file",
    "install_requests_demo",
    "read_request_templates",
    "route_from_file",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

CHINA: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
CENTRAL: Final = ("510104", "510105", "510106", "510107", "510108")
ADDRESS_POINT_COLUMNS: Final = (
    "code",
    "address",
    "lon",
    "lat",
    "population",
    "division_code",
    "street_code",
    "district_code",
    "city_code",
    "community_name",
    "street_name",
    "district_name",
    "rural",
)

# --------------------------------------------------------------------------- types and routing


Route = Callable[[str, str], str]
"""``route(type_code, community_code) -> department code``."""


def demo_types_from_file(path: Path | None = None) -> dict[str, DemoType]:
    """The request types of a service-types file (default: the shipped Chengdu catalogue)."""
    parsed = read_service_types(path or chengdu_path("service_types.yaml"))
    return {
        t.code: DemoType(
            t.code, t.name, t.deadline_hours, t.response_hours, t.duplicate.window_days,
            tuple(a.model_dump(mode="json") for a in t.attributes),
        )
        for t in parsed.types
    }  # fmt: skip


def route_from_file(address_points: pd.DataFrame, path: Path | None = None) -> Route:
    """Routing by the rules of a service-types file, as ``service_requests.routing.Router`` does
    in the database: a rule for the type in the deepest division on the community's path wins,
    then a rule for the type, then a rule for any type in a division, then the type's own
    department; ``district_government`` is ``GOV-<district code>``, ``street_office``
    ``GOV-<street code>``."""
    parsed = read_service_types(path or chengdu_path("service_types.yaml"))
    own = {t.code: t.department for t in parsed.types}
    paths: dict[str, tuple[str, ...]] = {
        str(row.division_code): (
            str(row.city_code),
            str(row.district_code),
            str(row.street_code),
            str(row.division_code),
        )
        for row in address_points.drop_duplicates("division_code").itertuples()
    }

    def route(type_code: str, community: str) -> str:
        path = paths[community]
        best: tuple[int, str] | None = None
        for rule in parsed.routing:
            if rule.type not in ("*", type_code) or (rule.division is not None and rule.division not in path):
                continue
            if rule.type == "*" and rule.division is None:
                continue
            score = (200 if rule.type != "*" else 0) + (
                50 + path.index(rule.division) if rule.division else 0
            )
            if best is None or score > best[0]:
                best = (score, rule.department)
        if best is None:
            return own[type_code]
        if best[1] == DISTRICT_GOVERNMENT:
            return government_code(path[1])
        return government_code(path[2]) if best[1] == STREET_OFFICE else best[1]

    return route


# --------------------------------------------------------------------------- address points


def address_points_from_origins(origins: pd.DataFrame, divisions: pd.DataFrame) -> pd.DataFrame:
    """Simulated address points (模拟地址) at the coverage demo's population points.

    Parameters
    ----------
    origins : the coverage demo's ``origins.csv`` (``id``, ``lon``, ``lat``, ``division_code`` of a
        community, ``population`` …)
    divisions : the division tree, columns ``code``, ``name``, ``level``, ``parent_code``

    Returns
    -------
    DataFrame
        Columns ``ADDRESS_POINT_COLUMNS``: code ``SIM-<id>``, an address such as
        "成都市锦江区锦官驿街道水井坊社区 模拟地址 3 号" from the real division names, the community,
        its street, district and city, and whether it is a village (村).

    Raises
    ------
    InvalidValueError
        A point whose ``division_code`` is not a community of ``divisions``.
    """
    by_code = divisions.set_index("code")
    codes = origins["division_code"].astype(str)
    communities = by_code.reindex(codes.unique())
    bad = communities.index[communities["level"].ne(DivisionLevel.community.value)]
    if len(bad):
        raise InvalidValueError(
            f"origins: division_code {bad[0]!r} (and {len(bad) - 1} more) is not a community of the "
            "division tree; load the divisions first or rebuild the coverage demo (区划代码不是社区)"
        )
    street = communities["parent_code"].reindex(codes).to_numpy(dtype=str)
    district = by_code["parent_code"].reindex(street).to_numpy(dtype=str)
    city = by_code["parent_code"].reindex(district).to_numpy(dtype=str)
    names = by_code["name"]
    community_name = names.reindex(codes).to_numpy(dtype=str)
    street_name = names.reindex(street).to_numpy(dtype=str)
    district_name = names.reindex(district).to_numpy(dtype=str)
    city_name = names.reindex(city).to_numpy(dtype=str)
    number = codes.groupby(codes).cumcount().to_numpy() + 1
    address = [
        f"{c}{d}{s}{m} 模拟地址 {k} 号"
        for c, d, s, m, k in zip(city_name, district_name, street_name, community_name, number, strict=True)
    ]
    return pd.DataFrame(
        {
            "code": "SIM-" + origins["id"].astype(str),
            "address": address,
            "lon": origins["lon"].astype(np.float64).to_numpy(),
            "lat": origins["lat"].astype(np.float64).to_numpy(),
            "population": origins["population"].astype(np.int64).to_numpy(),
            "division_code": codes.to_numpy(dtype=str),
            "street_code": street,
            "district_code": district,
            "city_code": city,
            "community_name": community_name,
            "street_name": street_name,
            "district_name": district_name,
            "rural": np.char.endswith(community_name.astype(str), "村"),
        }
    )


# --------------------------------------------------------------------------- the generator

_SURNAMES: Final = ("张", "李", "王", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙")


@dataclass(eq=False)
class RequestsDemo:
    """The simulated request history of one year (模拟数据).

    Attributes
    ----------
    requests : one row per request, in order of receipt; ``department_code`` is the unit holding
        it at the end, ``duplicate_of`` the row of the earlier request (-1: none), reporter fields
        in plain text (``install_requests_demo`` encrypts them)
    events : one row per timeline step; ``request`` is the row in ``requests``
    """

    requests: pd.DataFrame
    events: pd.DataFrame
    seed: int
    year: int
    seconds: float = field(default=0.0, compare=False)


def _pick(rng: np.random.Generator, options: Sequence[str], n: int) -> npt.NDArray[np.object_]:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def _when(
    tpl: RequestTemplates, codes: list[str], n: int, year: int, rng: np.random.Generator
) -> tuple[Ints, Ints]:
    """Type index and receipt time (UTC epoch seconds) of each request, sorted by time."""
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    month, weekday = days.month.to_numpy() - 1, days.day_of_week.to_numpy()
    specs = [tpl.types[c] for c in codes]
    volume = np.array([s.weight * np.asarray(s.season)[month].mean() for s in specs])
    counts = rng.multinomial(n, volume / volume.sum())
    start = int(datetime(year, 1, 1, tzinfo=CHINA).timestamp())
    kinds, moments = [], []
    for index, (spec, count) in enumerate(zip(specs, counts, strict=True)):
        day_weight = np.asarray(spec.season)[month] * np.asarray(tpl.weekdays[spec.hours])[weekday]
        hour_weight = np.asarray(tpl.hours[spec.hours])
        day = rng.choice(len(days), size=count, p=day_weight / day_weight.sum())
        hour = rng.choice(24, size=count, p=hour_weight / hour_weight.sum())
        second = rng.integers(0, 3600, count)
        kinds.append(np.full(count, index, dtype=np.int64))
        moments.append(start + day * 86400 + hour * 3600 + second)
    type_index, requested = np.concatenate(kinds), np.concatenate(moments).astype(np.int64)
    order = np.lexsort((type_index, requested))
    return type_index[order], requested[order]


def _where(
    tpl: RequestTemplates, codes: list[str], points: pd.DataFrame, type_index: Ints, rng: np.random.Generator
) -> Ints:
    """An address point per request, in proportion to population (city dwellers call more)."""
    weight = points["population"].to_numpy(dtype=np.float64) * np.where(
        points["district_code"].isin(CENTRAL), 1.3, 1.0
    )
    rural = points["rural"].to_numpy(dtype=np.bool_)
    out = np.empty(len(type_index), dtype=np.int64)
    for index, code in enumerate(codes):
        sel = np.flatnonzero(type_index == index)
        if len(sel):
            w = weight * np.where(rural, tpl.types[code].rural, 1.0)
            out[sel] = rng.choice(len(points), size=len(sel), p=w / w.sum())
    return out


def _names(
    tpl: RequestTemplates, n: int, suffixes: Sequence[str], rng: np.random.Generator
) -> npt.NDArray[np.str_]:
    first, second = np.asarray(tpl.names.first), np.asarray(tpl.names.second)
    head = np.char.add(first[rng.integers(0, len(first), n)], second[rng.integers(0, len(second), n)])
    return np.char.add(head, np.asarray(suffixes)[rng.integers(0, len(suffixes), n)])


def _texts(
    tpl: RequestTemplates,
    codes: list[str],
    type_index: Ints,
    kind: npt.NDArray[np.object_],
    point: Ints,
    points: pd.DataFrame,
    rng: np.random.Generator,
) -> list[str]:
    """One Chinese description per request from the templates (see the module docstring)."""
    n, m = len(type_index), len(points)
    # each address point has one fictional 小区 and one road; requests there share them
    estate_of = _names(tpl, m, tpl.names.estate, rng)
    road_of = _names(tpl, m, tpl.names.road, rng)
    road2 = _names(tpl, n, tpl.names.road, rng)
    community = points["community_name"].to_numpy(dtype=object)[point]
    street = points["street_name"].to_numpy(dtype=object)[point]
    place_form = rng.integers(0, len(tpl.places), n)
    building, unit_no, number = rng.integers(1, 31, n), rng.integers(1, 7, n), rng.integers(1, 400, n)
    times, reasons, units = _pick(rng, tpl.times, n), _pick(rng, tpl.reasons, n), _pick(rng, tpl.units, n)
    choice = rng.random((n, 12))
    other_type = rng.integers(0, len(codes) - 1, n)
    other_type += other_type >= type_index
    lc = tpl.lifecycle
    # a borderline case reads like one of the type's neighbours: the label is still the type the
    # operator chose, so a classifier cannot be sure of it either
    text_type = type_index.copy()
    position = {code: i for i, code in enumerate(codes)}
    for index, code in enumerate(codes):
        near = [position[c] for c in tpl.types[code].neighbours if c in position]
        sel = np.flatnonzero((type_index == index) & (choice[:, 10] < lc.borderline))
        if near and len(sel):
            text_type[sel] = np.asarray(near)[rng.integers(0, len(near), len(sel))]
    phones = [
        f"1{p}0000{d:04d}"
        for p, d in zip(rng.choice([38, 39, 50, 86], n), rng.integers(0, 10_000, n), strict=True)
    ]
    out = []
    for i in range(n):
        spec = tpl.types[codes[text_type[i]]]
        estate = str(estate_of[point[i]])
        slots = {
            "community": community[i], "street": street[i], "estate": estate, "road": str(road_of[point[i]]),
            "road2": str(road2[i]), "building": building[i], "unit_no": unit_no[i], "number": number[i],
        }  # fmt: skip
        slots["place"] = tpl.places[place_form[i]].format(**slots)
        c = choice[i]
        slots.update(
            time=times[i], reason=reasons[i], unit=units[i],
            object=spec.objects[int(c[0] * len(spec.objects))], detail=spec.details[int(c[1] * len(spec.details))],
        )  # fmt: skip
        k = RequestKind(kind[i])
        phrases = tpl.requests.get(k) or tpl.requests[RequestKind.complaint]
        slots["request"] = phrases[int(c[2] * len(phrases))]
        if spec.questions:
            slots["question"] = spec.questions[int(c[3] * len(spec.questions))].format(**slots)
        if spec.suggestions:
            slots["suggest"] = spec.suggestions[int(c[3] * len(spec.suggestions))].format(**slots)
        if c[4] < lc.vague:
            text = tpl.vague[int(c[11] * len(tpl.vague))]
        elif c[4] < lc.vague + lc.short:  # a short text
            text = (
                spec.short[int(c[5] * len(spec.short))]
                if spec.short and c[6] < 0.6
                else slots["object"] + slots["detail"]
            )
        else:
            if k is RequestKind.consultation and spec.questions:
                pool = tpl.consultation
            elif k is RequestKind.suggestion and spec.suggestions:
                pool = tpl.suggestion
            elif k is RequestKind.praise:
                pool = tpl.praise
            else:
                pool = spec.templates
            text = pool[int(c[5] * len(pool))].format(**slots)
            if c[6] < lc.two_topics:
                second = tpl.types[codes[other_type[i]]]
                text = tpl.second_topic[int(c[7] * len(tpl.second_topic))].format(
                    **{**slots, "text": text, "object": second.objects[int(c[0] * len(second.objects))],
                       "detail": second.details[int(c[1] * len(second.details))]}
                )  # fmt: skip
        if c[8] < lc.phone_in_text:
            text = tpl.phone[int(c[9] * len(tpl.phone))].format(text=text, phone=phones[i])
        out.append(text)
    return out


def _attributes(types: list[DemoType], type_index: Ints, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Open311 attribute answers: every required one, optional ones now and then."""
    out: list[dict[str, Any]] = [{} for _ in range(len(type_index))]
    for index, spec in enumerate(types):
        for attribute in spec.attributes:
            sel = np.flatnonzero(type_index == index)
            if not attribute.get("required"):
                sel = sel[rng.random(len(sel)) < 0.4]
            values = [v["key"] for v in attribute.get("values", [])]
            if attribute["datatype"] in ("singlevaluelist", "multivaluelist") and values:
                # "yes" for a hazard is the minority: most reports are not dangerous
                picks = rng.choice(len(values), size=len(sel), p=_skewed(len(values)))
                answers: list[Any] = [
                    values[p] if attribute["datatype"] == "singlevaluelist" else [values[p]] for p in picks
                ]
            elif attribute["datatype"] == "number":
                answers = [str(v) for v in rng.integers(60, 96, len(sel))]
            else:
                continue
            for row, answer in zip(sel, answers, strict=True):
                out[row][attribute["code"]] = answer
    return out


def _skewed(k: int) -> Floats:
    """Option weights: of two (yes/no) the first is the minority, otherwise even."""
    if k == 2:
        return np.array([0.35, 0.65])
    return np.full(k, 1.0 / k)


def build_requests_demo(
    *,
    seed: int = 14,
    n: int = 50_000,
    year: int,
    address_points: pd.DataFrame,
    service_types: Mapping[str, DemoType] | None = None,
    route: Route | None = None,
    templates: RequestTemplates | None = None,
    until: datetime | None = None,
) -> RequestsDemo:
    """Generate a year of simulated requests with their timelines (pure, deterministic).

    Parameters
    ----------
    seed : the same seed (and inputs) gives the same frames
    n : the year's volume; with ``until`` inside the year, requests after it are left out
    year : the calendar year (Beijing time) the requests are received in
    address_points : ``address_points_from_origins`` output: where requests are placed
    service_types : the types to simulate (default: the shipped catalogue); every type of the
        templates must be among them
    route : the department of a type in a community (default: the shipped routing rules); the
        install passes the database's ``Router``
    templates : texts and shares (default: ``chengdu/request_templates.yaml``)
    until : steps after this moment have not happened yet (default: the end of the year; a
        naive datetime is taken as UTC)

    Returns
    -------
    RequestsDemo
        ``requests`` and ``events`` frames, every row simulated (模拟数据).
    """
    started = time.perf_counter()
    if n < 1:
        raise InvalidValueError(f"n must be at least 1, not {n} (诉求数量)")
    tpl = templates or shipped_templates()
    known = service_types if service_types is not None else demo_types_from_file()
    codes = [c for c in tpl.types if c in known]
    if len(codes) < len(tpl.types):
        missing = sorted(set(tpl.types) - set(known))
        raise NotFoundError(
            f"request types {', '.join(missing)} have templates but are not loaded; load the request "
            "types first (service_types.yaml, service_requests.catalogue.load_service_types) (诉求类型未导入)"
        )
    if address_points.empty:
        raise InvalidValueError("address_points is empty; build them from the coverage demo's origins.csv")
    types = [known[c] for c in codes]
    route = route or route_from_file(address_points)
    seeds = np.random.SeedSequence([seed, year, 12345]).spawn(6)
    rngs = [np.random.default_rng(s) for s in seeds]

    type_index, requested = _when(tpl, codes, n, year, rngs[0])
    point = _where(tpl, codes, address_points, type_index, rngs[1])
    rng = rngs[2]
    kind = np.empty(n, dtype=object)
    for index, code in enumerate(codes):
        sel = np.flatnonzero(type_index == index)
        mix = tpl.types[code].kinds
        weights = np.array(list(mix.values()))
        kind[sel] = np.array([k.value for k in mix], dtype=object)[
            rng.choice(len(mix), len(sel), p=weights / weights.sum())
        ]
    channel_weights = np.array(list(tpl.channels.values()))
    channel = np.array([c.value for c in tpl.channels], dtype=object)[
        rng.choice(len(channel_weights), n, p=channel_weights / channel_weights.sum())
    ]
    pts = address_points
    division = pts["division_code"].to_numpy(dtype=object)[point]
    district = pts["district_code"].to_numpy(dtype=object)[point]
    pairs = pd.DataFrame({"type": np.asarray(codes, dtype=object)[type_index], "division": division})
    routed = {(t, d): route(t, d) for t, d in pairs.drop_duplicates().itertuples(index=False)}
    department = np.array(
        [routed[p] for p in zip(pairs["type"], pairs["division"], strict=True)], dtype=object
    )

    timeline = draw_timelines(
        tpl, types, type_index, requested, kind, channel, division, district, department, rngs[3]
    )
    descriptions = _texts(tpl, codes, type_index, kind, point, pts, rngs[4])
    rng = rngs[5]
    attributes = _attributes(types, type_index, rng)
    metres = rng.normal(0.0, 8.0, (n, 2))
    lat = pts["lat"].to_numpy()[point] + metres[:, 1] / 111_320.0
    lon = pts["lon"].to_numpy()[point] + metres[:, 0] / (111_320.0 * np.cos(np.radians(lat)))
    named = rng.random(n) < tpl.lifecycle.named_reporter
    surname = where_none(named, _pick(rng, _SURNAMES, n))
    title = where_none(named, _pick(rng, ("先生", "女士"), n))
    reporter_phone = where_none(named, [f"13800{d:06d}" for d in rng.integers(0, 1_000_000, n)])
    token_tail = rng.integers(0, 16**8, n)
    notes = {name: _pick(rng, getattr(tpl.lifecycle.notes, name), n) for name in Notes.model_fields}

    cutoff = int(datetime(year + 1, 1, 1, tzinfo=CHINA).timestamp())
    if until is not None:
        cutoff = min(cutoff, int(as_utc(until).timestamp()))
    keep = np.flatnonzero(requested <= cutoff)
    requests, events = timeline_frames(
        keep, cutoff, requested, timeline, codes, types, type_index, kind, channel, department, notes
    )
    requests = requests.assign(
        token=[f"sim{year}-{i + 1:06d}-{t:08x}" for i, t in zip(keep, token_tail[keep], strict=True)],
        description=np.asarray(descriptions, dtype=object)[keep],
        lon=np.round(lon[keep], 7),
        lat=np.round(lat[keep], 7),
        address=pts["address"].to_numpy(dtype=object)[point[keep]],
        address_id=where_none(
            channel[keep] == RequestChannel.hotline.value, pts["code"].to_numpy(dtype=object)[point[keep]]
        ),
        division_code=division[keep],
        street_code=pts["street_code"].to_numpy(dtype=object)[point[keep]],
        district_code=district[keep],
        attributes=pd.Series([attributes[i] for i in keep], dtype=object),
        reporter_surname=surname[keep],
        reporter_title=title[keep],
        reporter_phone=reporter_phone[keep],
        simulated=True,
    )
    return RequestsDemo(requests, events, seed, year, time.perf_counter() - started)


# --------------------------------------------------------------------------- install


@dataclass
class RequestsDemoReport:
    """What ``install_requests_demo`` wrote (all of it simulated, 模拟数据)."""

    year: int
    seed: int
    address_points_created: int = 0
    address_points_updated: int = 0
    requests: int = 0
    events: int = 0
    removed: int = 0
    """Simulated requests of the year deleted first (``replace=True``)."""
    skipped: bool = False
    """The year already had simulated requests, so none were written."""
    build_seconds: float = 0.0
    seconds: float = 0.0
    simulated: bool = True


def _division_frame(session: Session) -> tuple[pd.DataFrame, dict[str, int]]:
    rows = session.execute(
        select(Division.id, Division.code, Division.name_zh, Division.level, Division.parent_id).where(
            Division.valid_to.is_(None)
        )
    ).all()
    code_of = {r.id: r.code for r in rows}
    frame = pd.DataFrame(
        {
            "code": [r.code for r in rows],
            "name": [r.name_zh for r in rows],
            "level": [r.level.value for r in rows],
            "parent_code": [code_of.get(r.parent_id, "") if r.parent_id else "" for r in rows],
        }
    )
    return frame, {r.code: r.id for r in rows}


def _install_points(
    session: Session, points: pd.DataFrame, ids: Mapping[str, int], report: RequestsDemoReport
) -> None:
    """Insert the simulated address points that are missing and update the ones that moved."""
    existing = {
        r.code: r
        for r in session.execute(
            select(AddressPoint.id, AddressPoint.code, AddressPoint.address, AddressPoint.lon, AddressPoint.lat,
                   AddressPoint.division_id).where(AddressPoint.code.like("SIM-%"))
        )
    }  # fmt: skip
    new, changed = [], []
    for code, address, lon, lat, division in zip(
        points["code"], points["address"], points["lon"], points["lat"], points["division_code"], strict=True
    ):
        values = {"address": address, "lon": float(lon), "lat": float(lat), "division_id": ids[division]}
        row = existing.get(code)
        if row is None:
            new.append({"code": code, "simulated": True, **values})
        elif (row.address, row.lon, row.lat, row.division_id) != tuple(values.values()):
            changed.append({"id": row.id, **values})
    if new:
        bulk_insert(session, table_of("address_points"), {key: [row[key] for row in new] for key in new[0]})
    if changed:
        session.execute(update(AddressPoint), changed)
    report.address_points_created, report.address_points_updated = len(new), len(changed)


def install_requests_demo(
    session: Session,
    *,
    coverage_dir: Path,
    year: int,
    n: int = 50_000,
    seed: int = 14,
    settings: Settings,
    replace: bool = False,
    until: datetime | None = None,
) -> RequestsDemoReport:
    """Write the simulated address points and a year of simulated requests with their events.

    Parameters
    ----------
    session : an open transaction on a database with the divisions and the request types loaded
    coverage_dir : where the coverage demo wrote ``origins.csv`` (its population points become
        the address points ``SIM-<id>``)
    year : the calendar year of the requests
    n, seed : volume and seed of ``build_requests_demo``
    settings : for encrypting the few fictional reporters' names and phones
    replace : delete the year's simulated requests first; otherwise a year that has simulated
        requests is left as it is (``skipped``), so running the demo twice writes nothing new
    until : steps after this moment have not happened yet (default: the end of the year)

    Returns
    -------
    RequestsDemoReport
        Counts and timings.

    Raises
    ------
    NotFoundError
        No ``origins.csv``, or request types with templates that are not loaded.
    InvalidValueError
        A population point in a division that is not a loaded community.
    """
    started = time.perf_counter()
    report = RequestsDemoReport(year, seed)
    origins_path = coverage_dir / "origins.csv"
    if not origins_path.is_file():
        raise NotFoundError(
            f"{origins_path} does not exist; build the coverage demo first (write_coverage_demo or "
            "`planwatch demo`) (缺少人口点文件)"
        )
    origins = pd.read_csv(origins_path, dtype={"id": str, "division_code": str})
    divisions, division_ids = _division_frame(session)
    points = address_points_from_origins(origins, divisions)
    _install_points(session, points, division_ids, report)

    start = datetime(year, 1, 1, tzinfo=CHINA).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA).astimezone(UTC)
    of_year = (
        ServiceRequest.simulated.is_(True),
        ServiceRequest.requested_at >= start,
        ServiceRequest.requested_at < end,
    )
    existing = session.scalar(select(func.count()).select_from(ServiceRequest).where(*of_year)) or 0
    if existing and not replace:
        report.skipped = True
        report.seconds = time.perf_counter() - started
        return report
    if existing:
        session.execute(delete(ServiceRequest).where(*of_year).execution_options(synchronize_session=False))
        report.removed = existing

    type_rows = session.execute(
        select(ServiceType.id, ServiceType.code, ServiceType.name_zh, ServiceType.deadline_hours,
               ServiceType.response_hours, ServiceType.duplicate_window_days, ServiceType.attributes)
    ).all()  # fmt: skip
    types = {
        r.code: DemoType(
            r.code,
            r.name_zh,
            r.deadline_hours,
            r.response_hours,
            r.duplicate_window_days,
            tuple(r.attributes),
        )
        for r in type_rows
    }
    type_ids = {r.code: r.id for r in type_rows}
    departments = dict(session.execute(select(Department.id, Department.code)).all())
    department_ids = {code: id_ for id_, code in departments.items()}
    router = Router.from_session(session)

    def route(type_code: str, community: str) -> str:
        return departments[router.department_for(type_ids[type_code], division_ids[community])]

    demo = build_requests_demo(seed=seed, n=n, year=year, address_points=points, service_types=types,
                               route=route, until=until)  # fmt: skip
    report.build_seconds = demo.seconds
    ids = _insert_requests(session, demo, settings, type_ids, division_ids, department_ids)
    _insert_events(session, demo, ids, department_ids)
    report.requests, report.events = len(demo.requests), len(demo.events)
    report.seconds = time.perf_counter() - started
    return report


def _insert_requests(
    session: Session,
    demo: RequestsDemo,
    settings: Settings,
    type_ids: Mapping[str, int],
    division_ids: Mapping[str, int],
    department_ids: Mapping[str, int],
) -> Ints:
    """Insert the requests in bulk; return their ids by row."""
    frame = demo.requests
    times = {
        name: frame[name]
        for name in ("requested_at", "updated_at", "dispatched_at", "accepted_at", "contacted_at",
                     "replied_at", "closed_at", "response_due_at", "expected_at", "callback_at")
    }  # fmt: skip
    first_name = [encrypt(settings, v) for v in python_values(frame["reporter_title"])]
    last_name = [encrypt(settings, v) for v in python_values(frame["reporter_surname"])]
    phone = [encrypt(settings, v) for v in python_values(frame["reporter_phone"])]
    columns: dict[str, Sequence[Any] | pd.Series] = {
        "token": python_values(frame["token"]),
        "service_type_id": [type_ids[c] for c in frame["type_code"]],
        "type_confirmed": python_values(frame["type_confirmed"]),
        "kind": python_values(frame["kind"]),
        "state": python_values(frame["state"]),
        "channel": python_values(frame["channel"]),
        "description": python_values(frame["description"]),
        "lat": python_values(frame["lat"]),
        "lon": python_values(frame["lon"]),
        "address": python_values(frame["address"]),
        "address_id": python_values(frame["address_id"]),
        "attributes": python_values(frame["attributes"]),
        "division_id": [division_ids[c] for c in frame["division_code"]],
        "street_id": [division_ids[c] for c in frame["street_code"]],
        "district_id": [division_ids[c] for c in frame["district_code"]],
        "department_id": [
            department_ids[c] if c is not None else None for c in python_values(frame["department_code"])
        ],
        **times,
        "status_notes": python_values(frame["status_notes"]),
        "close_reason": python_values(frame["close_reason"]),
        "returned_count": python_values(frame["returned_count"]),
        "reopened_count": python_values(frame["reopened_count"]),
        "resolved": python_values(frame["resolved"]),
        "satisfaction": python_values(frame["satisfaction"]),
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "simulated": [True] * len(frame),
    }
    bulk_insert(session, table_of("service_requests"), columns)
    prefix = frame["token"].iloc[0].split("-")[0] if len(frame) else ""
    found = dict(
        session.execute(
            select(ServiceRequest.token, ServiceRequest.id).where(ServiceRequest.token.like(f"{prefix}-%"))
        ).all()
    )
    ids = np.array([found[t] for t in frame["token"]], dtype=np.int64)
    duplicates = np.flatnonzero(frame["duplicate_of"].to_numpy() >= 0)
    if len(duplicates):
        of = frame["duplicate_of"].to_numpy()[duplicates]
        session.execute(
            update(ServiceRequest),
            [
                {"id": int(ids[d]), "duplicate_of_id": int(ids[o])}
                for d, o in zip(duplicates, of, strict=True)
            ],
        )
    return ids


def _insert_events(
    session: Session, demo: RequestsDemo, ids: Ints, department_ids: Mapping[str, int]
) -> None:
    # in order of time, as a live system writes them (and the ``at`` index grows at its end)
    frame = demo.events.iloc[np.argsort(demo.events["at"].array.asi8, kind="stable")]
    columns: dict[str, Sequence[Any] | pd.Series] = {
        "request_id": ids[frame["request"].to_numpy()].tolist(),
        "at": frame["at"],
        "action": python_values(frame["action"]),
        "from_state": python_values(frame["from_state"]),
        "to_state": python_values(frame["to_state"]),
        "actor": [ACTOR] * len(frame),
        "department_id": [
            department_ids[c] if c is not None else None for c in python_values(frame["department_code"])
        ],
        "note": python_values(frame["note"]),
        "public": python_values(frame["public"]),
    }
    bulk_insert(session, table_of("request_events"), columns)
