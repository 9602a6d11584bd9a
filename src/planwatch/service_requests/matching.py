"""Supply–demand matching (公共服务供需对接): per division, the people who need a service against the
capacity that serves them, and the divisions shortest of supply.

Demand is the target group's population from the divisions' age bands, shown beside two signals
of expressed demand: the share of surveyed households that say they need the service (a demand
survey's indicator) and the requests of related types per 10,000 residents. Supply is the summed
capacity of the facilities of the pair's types (nursing beds, childcare places, canteen seats …).

Every estimate is said where it is made (``MatchResult.estimates``):

* Streets carry total population only; a street's group is its total times its district's share
  of the group (the district's band over the district's total).
* Children under 3 and children aged 3–5 are not census bands; each is estimated as the 0–14 band
  times 3/15 (an even spread over single years of age).
* Facilities without a capacity add nothing to supply; how many there are is reported.

The pairs are a registry (``PAIRS``, ``register_pair``); the built-in ones register themselves
the same way. The core (``match_divisions``) is pure; ``supply_demand`` reads the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from planwatch.divisions.service import division_tree
from planwatch.divisions.tree import DivisionTree, Node
from planwatch.errors import InvalidValueError, NotFoundError
from planwatch.models import DataValue, Facility, Indicator, Population, ServiceRequest, ServiceType
from planwatch.models.enums import DivisionLevel, PopulationSource, ValueSource

__all__ = [
    "GROUPS",
    "PAIRS",
    "DivisionInput",
    "Group",
    "MatchResult",
    "MatchRow",
    "Standard",
    "SupplyDemandPair",
    "match_divisions",
    "register_pair",
    "supply_demand",
]

Verified = Literal["checked", "secondary", "unverified"]
CHINA: Final = timezone(timedelta(hours=8))
"""Request years are counted in Beijing time (a request at 23:30 on 31 December belongs to that year)."""
LEVELS: Final = (DivisionLevel.city, DivisionLevel.district, DivisionLevel.street, DivisionLevel.community)


# ---------------------------------------------------------------- groups, standards, pairs


@dataclass(frozen=True)
class Group:
    """A target group as a fraction of a census age band."""

    code: str
    name_zh: str
    name_en: str
    band: str
    """The population table's ``age_band`` it is taken from."""
    fraction: float = 1.0
    note: str | None = None
    """Why and how the group is estimated from the band (``None``: it is the band)."""


GROUPS: Final[dict[str, Group]] = {
    group.code: group
    for group in (
        Group("total", "常住人口", "residents", "total"),
        Group("60+", "60岁以上老年人", "residents aged 60+", "60+"),
        Group("65+", "65岁以上老年人", "residents aged 65+", "65+"),
        Group("0-14", "0–14岁儿童", "children aged 0–14", "0-14"),
        Group(
            "0-2",
            "3岁以下婴幼儿",
            "children under 3",
            "0-14",
            3 / 15,
            "children under 3 are not a census band: estimated as the 0–14 band × 3/15 (an even spread"
            " over single years of age) / 3岁以下婴幼儿按0–14岁人口×3/15估算",
        ),
        Group(
            "3-5",
            "3–5岁幼儿",
            "children aged 3–5",
            "0-14",
            3 / 15,
            "children aged 3–5 are not a census band: estimated as the 0–14 band × 3/15"
            " / 3–5岁幼儿按0–14岁人口×3/15估算",
        ),
    )
}


@dataclass(frozen=True)
class Standard:
    """A provision standard: ``value`` units of supply per ``per`` persons of group ``base``."""

    value: float
    per: float
    base: str
    label_zh: str
    label_en: str
    source: str
    verified: Verified

    def required(self, base_population: float) -> float:
        return self.value * base_population / self.per


@dataclass(frozen=True)
class SupplyDemandPair:
    """What is matched: a target group against the capacity of some facility types."""

    code: str
    name_zh: str
    name_en: str
    facility_types: tuple[str, ...]
    group: str
    unit_zh: str
    unit_en: str
    ratio_label_zh: str
    """How the ratio reads, e.g. ``60岁以上老年人/养老床位``."""
    ratio_label_en: str
    standard: Standard | None = None
    service_types: tuple[str, ...] = ()
    """Request types (``service_types.yaml`` codes) whose volume signals demand."""
    survey_indicator: str | None = None
    """A demand-survey indicator (a percentage of households) shown beside the population."""


PAIRS: dict[str, SupplyDemandPair] = {}


def register_pair(pair: SupplyDemandPair) -> SupplyDemandPair:
    """Add a pair to the registry (a later pair with the same code replaces the earlier)."""
    if pair.group not in GROUPS:
        msg = f"pair {pair.code}: unknown group {pair.group!r}; use one of {', '.join(GROUPS)}"
        raise InvalidValueError(msg)
    if pair.standard is not None and pair.standard.base not in GROUPS:
        msg = f"pair {pair.code}: the standard's base {pair.standard.base!r} is not a group"
        raise InvalidValueError(msg)
    PAIRS[pair.code] = pair
    return pair


register_pair(
    SupplyDemandPair(
        code="elderly_beds",
        name_zh="养老床位",
        name_en="Elderly-care beds",
        facility_types=("nursing_home", "elderly_day_care"),
        group="60+",
        unit_zh="张床位",
        unit_en="beds",
        ratio_label_zh="60岁以上老年人/养老床位",
        ratio_label_en="residents aged 60+ per elderly-care bed",
        standard=Standard(
            value=35,
            per=1000,
            base="60+",
            label_zh="每千名老年人拥有养老床位数 35 张",
            label_en="35 elderly-care beds per 1,000 older residents",
            source=(
                "35–40 beds per 1,000 older residents by 2020 (lower bound used), as quoted in"
                " https://smesc.cn/news/show.php?itemid=264905; the excerpt does not name the document"
                " (it matches the 2020 target attributed to 国发〔2013〕35号, not checked); an expired"
                " national target, used here as a yardstick only"
            ),
            verified="unverified",
        ),
        service_types=("elderly_care",),
        survey_indicator="survey_elderly_care_demand_share",
    )
)
register_pair(
    SupplyDemandPair(
        code="childcare_places",
        name_zh="婴幼儿托位",
        name_en="Childcare places (under 3)",
        facility_types=("nursery",),
        group="0-2",
        unit_zh="个托位",
        unit_en="places",
        ratio_label_zh="3岁以下婴幼儿/托位",
        ratio_label_en="children under 3 per childcare place",
        standard=Standard(
            value=4.5,
            per=1000,
            base="total",
            label_zh="每千人口拥有3岁以下婴幼儿托位数 4.5 个",
            label_en="4.5 childcare places for children under 3 per 1,000 residents",
            source=(
                "国家“十四五”规划纲要 main indicator, 2025 target 4.5 (quoted by 澎湃新闻: “距离‘十四五’期末4.5个的"
                "目标”; the national mid-term evaluation lists it as lagging, see"
                " shared/reference/plan-monitoring-systems.md §4c); the primary table was not read"
            ),
            verified="secondary",
        ),
        service_types=("childcare",),
        survey_indicator="survey_childcare_demand_share",
    )
)
register_pair(
    SupplyDemandPair(
        code="kindergarten_places",
        name_zh="幼儿园学位",
        name_en="Kindergarten places",
        facility_types=("kindergarten",),
        group="3-5",
        unit_zh="个学位",
        unit_en="places",
        ratio_label_zh="3–5岁幼儿/幼儿园学位",
        ratio_label_en="children aged 3–5 per kindergarten place",
        service_types=("education",),
    )
)
register_pair(
    SupplyDemandPair(
        code="canteen_seats",
        name_zh="社区食堂餐位",
        name_en="Community canteen seats",
        facility_types=("community_canteen",),
        group="60+",
        unit_zh="个餐位",
        unit_en="seats",
        ratio_label_zh="60岁以上老年人/社区食堂餐位",
        ratio_label_en="residents aged 60+ per community-canteen seat",
        service_types=("community_life",),
    )
)


def get_pair(code: str) -> SupplyDemandPair:
    try:
        return PAIRS[code]
    except KeyError:
        raise NotFoundError(f"no supply–demand pair {code!r}; use one of {', '.join(PAIRS)}") from None


# ---------------------------------------------------------------- the pure core


@dataclass(frozen=True)
class DivisionInput:
    """One division's figures, as the core needs them."""

    division_id: int | None
    code: str
    name_zh: str
    name_en: str | None
    level: str
    population: float | None
    """Total residents."""
    demand: float | None
    """The target group (``None``: unknown)."""
    demand_estimated: bool
    base: float | None
    """The standard's base population (``None`` when the pair has no standard or it is unknown)."""
    supply: float
    facilities: int
    without_capacity: int
    survey_share: float | None = None
    survey_n: float | None = None
    requests: int | None = None


class MatchRow(BaseModel):
    division_id: int | None
    code: str
    name_zh: str
    name_en: str | None
    level: str
    population: float | None
    demand: float | None
    demand_estimated: bool
    supply: float
    facilities: int
    facilities_without_capacity: int
    ratio: float | None
    """Demand per unit of supply (``None`` without supply or demand)."""
    supply_per_1000: float | None
    """Units of supply per 1,000 of the target group."""
    required: float | None
    """Supply the standard asks for."""
    gap: float | None
    """Required minus supply: positive is a shortage."""
    survey_share: float | None
    survey_n: float | None
    requests: int | None
    requests_per_10k: float | None
    no_supply: bool
    rank: int | None
    """1 = shortest of supply (no supply at all first, then the highest ratio); ``None`` without demand."""


def match_divisions(pair: SupplyDemandPair, units: Sequence[DivisionInput]) -> list[MatchRow]:
    """Ratio, standard gap and shortage rank of every division, shortest of supply first.

    Pure. Divisions without supply but with demand rank first (by demand); then by demand per
    unit of supply, highest first; divisions whose demand is unknown or zero are not ranked.
    """
    rows = []
    for unit in units:
        demand = unit.demand or 0.0
        has_demand = demand > 0
        ratio = demand / unit.supply if has_demand and unit.supply > 0 else None
        required = (
            pair.standard.required(unit.base) if pair.standard is not None and unit.base is not None else None
        )
        rows.append(
            MatchRow(
                division_id=unit.division_id,
                code=unit.code,
                name_zh=unit.name_zh,
                name_en=unit.name_en,
                level=unit.level,
                population=unit.population,
                demand=unit.demand,
                demand_estimated=unit.demand_estimated,
                supply=unit.supply,
                facilities=unit.facilities,
                facilities_without_capacity=unit.without_capacity,
                ratio=ratio,
                supply_per_1000=1000 * unit.supply / demand if has_demand else None,
                required=required,
                gap=required - unit.supply if required is not None else None,
                survey_share=unit.survey_share,
                survey_n=unit.survey_n,
                requests=unit.requests,
                requests_per_10k=(
                    10_000 * unit.requests / unit.population
                    if unit.requests is not None and unit.population
                    else None
                ),
                no_supply=has_demand and unit.supply <= 0,
                rank=None,
            )
        )

    def shortness(row: MatchRow) -> tuple[int, float, str]:
        if row.no_supply:
            return (0, -(row.demand or 0.0), row.code)
        return (1, -(row.ratio or 0.0), row.code)

    ranked = sorted((r for r in rows if r.demand is not None and r.demand > 0), key=shortness)
    for rank, row in enumerate(ranked, start=1):
        row.rank = rank
    unranked = sorted((r for r in rows if r.rank is None), key=lambda r: r.code)
    return ranked + unranked


# ---------------------------------------------------------------- the session adapter


class StandardOut(BaseModel):
    value: float
    per: float
    base: str
    label_zh: str
    label_en: str
    source: str
    verified: Verified


class PairOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    facility_types: list[str]
    group: str
    group_zh: str
    group_en: str
    unit_zh: str
    unit_en: str
    ratio_label_zh: str
    ratio_label_en: str
    standard: StandardOut | None
    service_types: list[str]
    survey_indicator: str | None

    @classmethod
    def of(cls, pair: SupplyDemandPair) -> PairOut:
        group = GROUPS[pair.group]
        return cls(
            code=pair.code,
            name_zh=pair.name_zh,
            name_en=pair.name_en,
            facility_types=list(pair.facility_types),
            group=pair.group,
            group_zh=group.name_zh,
            group_en=group.name_en,
            unit_zh=pair.unit_zh,
            unit_en=pair.unit_en,
            ratio_label_zh=pair.ratio_label_zh,
            ratio_label_en=pair.ratio_label_en,
            standard=StandardOut(**pair.standard.__dict__) if pair.standard else None,
            service_types=list(pair.service_types),
            survey_indicator=pair.survey_indicator,
        )


class MatchResult(BaseModel):
    pair: PairOut
    level: str
    population_year: int | None
    survey_year: int | None
    requests_year: int | None
    simulated: bool
    simulated_sources: list[str]
    """Which inputs are simulated (模拟数据): ``facilities``, ``population``, ``survey``, ``requests``."""
    estimates: list[str]
    """Every estimate made, in words."""
    unplaced_facilities: int
    """Facilities coded above ``level`` (counted in the total only)."""
    total: MatchRow
    rows: list[MatchRow]


@dataclass
class _Supply:
    capacity: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    count: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    missing: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    simulated: bool = False
    unplaced: int = 0


def _supply(
    session: Session, pair: SupplyDemandPair, tree: DivisionTree, level: DivisionLevel
) -> tuple[_Supply, _Supply]:
    """Capacity per division at ``level`` and over everything (keyed 0)."""
    at_level, everything = _Supply(), _Supply()
    rows = session.execute(
        select(Facility.division_id, Facility.capacity, Facility.simulated).where(
            Facility.type.in_(pair.facility_types)
        )
    )
    for division_id, capacity, simulated in rows:
        missing = capacity is None
        amount = 0.0 if capacity is None else float(capacity)
        node = tree.ancestor_at(division_id, level)
        targets = [(everything, 0)] + ([(at_level, node.id)] if node is not None else [])
        if node is None:
            at_level.unplaced += 1
        for bucket, key in targets:
            bucket.count[key] += 1
            bucket.missing[key] += missing
            bucket.capacity[key] += amount
            bucket.simulated |= bool(simulated)
    return at_level, everything


def _bands(
    session: Session, year: int, bands: set[str]
) -> dict[str, dict[int, tuple[float, PopulationSource]]]:
    out: dict[str, dict[int, tuple[float, PopulationSource]]] = {band: {} for band in bands}
    rows = session.execute(
        select(Population.division_id, Population.age_band, Population.population, Population.source)
        .where(Population.age_band.in_(bands), Population.year <= year)
        .order_by(Population.year)
    )
    for division_id, band, population, source in rows:
        out[band][division_id] = (float(population), source)  # later years overwrite earlier ones
    return out


def _group_population(
    node: Node,
    group: Group,
    bands: Mapping[str, Mapping[int, tuple[float, PopulationSource]]],
    tree: DivisionTree,
) -> tuple[float | None, bool]:
    """The group's population of a division and whether it is estimated."""
    own = bands[group.band].get(node.id)
    if own is not None:
        return own[0] * group.fraction, group.fraction != 1.0
    total = bands["total"].get(node.id)
    if total is None:
        return None, False
    for ancestor in reversed(tree.path(node.id)[:-1]):
        share_of = bands[group.band].get(ancestor.id)
        ancestor_total = bands["total"].get(ancestor.id)
        if share_of is not None and ancestor_total is not None and ancestor_total[0] > 0:
            return total[0] * share_of[0] / ancestor_total[0] * group.fraction, True
    return None, False


def _survey(
    session: Session, code: str | None, tree: DivisionTree, level: DivisionLevel, year: int | None
) -> tuple[dict[int, tuple[float, float]], int | None, bool, bool]:
    """Per division at ``level`` (and 0 for the whole city): (share %, respondents); the year used,
    whether any value is simulated, and whether shares were aggregated from lower levels."""
    if code is None:
        return {}, None, False, False
    indicator = session.scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        return {}, None, False, False
    if year is None:
        year = session.scalar(
            select(func.max(DataValue.year)).where(
                DataValue.indicator_id == indicator.id, DataValue.deleted.is_(False)
            )
        )
        if year is None:
            return {}, None, False, False
    rows = session.execute(
        select(
            DataValue.division_id,
            DataValue.numerator,
            DataValue.denominator,
            DataValue.value,
            DataValue.source,
        ).where(
            DataValue.indicator_id == indicator.id,
            DataValue.period == str(year),
            DataValue.deleted.is_(False),
        )
    )
    values = []
    simulated = aggregated = False
    for division_id, num, den, value, source in rows:
        simulated |= source is ValueSource.simulated
        node = tree.nodes.get(division_id)
        if node is not None:
            values.append((node, num, den, value))
    if not values:
        return {}, year, simulated, False
    factor = indicator.factor or 100.0
    # a division's own value first; otherwise Σ numerator / Σ denominator of the deepest values
    # below it (the survey writes at the indicator's deepest level)
    out: dict[int, tuple[float, float]] = {
        (0 if node.level is DivisionLevel.city else node.id): (float(value), float(den or 0))
        for node, _, den, value in values
        if value is not None and node.level in (level, DivisionLevel.city)
    }
    deepest = max(node.level.depth for node, _, _, _ in values)
    numerator: dict[int, float] = defaultdict(float)
    denominator: dict[int, float] = defaultdict(float)
    for node, num, den, _ in values:
        if node.level.depth != deepest or num is None or den is None:
            continue
        target = tree.ancestor_at(node.id, level) if deepest > level.depth else None
        for key in [0] + ([target.id] if target is not None else []):
            numerator[key] += float(num)
            denominator[key] += float(den)
    for key, den in denominator.items():
        if key not in out and den > 0:
            out[key] = (factor * numerator[key] / den, den)
            aggregated |= key != 0
    return out, year, simulated, aggregated


def _requests(
    session: Session, pair: SupplyDemandPair, tree: DivisionTree, level: DivisionLevel, year: int | None
) -> tuple[dict[int, int] | None, int | None, bool]:
    """Requests of the pair's types in ``year`` (Beijing time; duplicates left out) per division
    at ``level`` and over everything (0); the year used; whether any is simulated."""
    if not pair.service_types:
        return None, None, False
    of_types = ServiceRequest.service_type_id.in_(
        select(ServiceType.id).where(ServiceType.code.in_(pair.service_types))
    )
    if year is None:
        latest = session.scalar(select(func.max(ServiceRequest.requested_at)).where(of_types))
        if latest is None:
            return None, None, False
        year = (latest if latest.tzinfo else latest.replace(tzinfo=UTC)).astimezone(CHINA).year
    # bounds in UTC, as the times are stored (SQLite compares the digits and ignores an offset)
    start = datetime(year, 1, 1, tzinfo=CHINA).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA).astimezone(UTC)
    rows = session.execute(
        select(ServiceRequest.division_id, ServiceRequest.simulated, func.count())
        .where(
            of_types,
            ServiceRequest.requested_at >= start,
            ServiceRequest.requested_at < end,
            ServiceRequest.duplicate_of_id.is_(None),
        )
        .group_by(ServiceRequest.division_id, ServiceRequest.simulated)
    )
    counts: dict[int, int] = defaultdict(int)
    simulated = False
    for division_id, is_simulated, count in rows:
        simulated |= bool(is_simulated)
        counts[0] += count
        node = tree.ancestor_at(division_id, level)
        if node is not None:
            counts[node.id] += count
    return counts, year, simulated


def supply_demand(
    session: Session,
    pair_code: str,
    *,
    level: DivisionLevel = DivisionLevel.district,
    year: int | None = None,
) -> MatchResult:
    """Match one pair's demand and supply per division at ``level``.

    Parameters
    ----------
    year
        Population of this year (or the nearest earlier one), survey values and requests of this
        year; ``None``: the latest year each source has.

    Raises
    ------
    NotFoundError
        An unknown pair.
    InvalidValueError
        A level that is not district, street or community.
    """
    pair = get_pair(pair_code)
    if level not in (DivisionLevel.district, DivisionLevel.street, DivisionLevel.community):
        raise InvalidValueError(f"level: match per district, street or community, not {level.value}")
    tree = division_tree(session)
    root = tree.root
    if root is None:
        raise NotFoundError("no divisions loaded; run `planwatch divisions load` (or `planwatch demo`) first")
    group = GROUPS[pair.group]
    base_group = GROUPS[pair.standard.base] if pair.standard else None
    population_year = year or session.scalar(select(func.max(Population.year)))
    bands = _bands(
        session,
        population_year or 0,
        {"total", group.band} | ({base_group.band} if base_group else set()),
    )
    at_level, everything = _supply(session, pair, tree, level)
    survey, survey_year, survey_simulated, survey_aggregated = _survey(
        session, pair.survey_indicator, tree, level, year
    )
    requests, requests_year, requests_simulated = _requests(session, pair, tree, level, year)
    population_simulated = any(
        source is PopulationSource.simulated for band in bands.values() for _, source in band.values()
    )
    street_estimates = False

    def unit(node: Node, supply: _Supply, key: int) -> DivisionInput:
        nonlocal street_estimates
        demand, estimated = _group_population(node, group, bands, tree)
        base = _group_population(node, base_group, bands, tree)[0] if base_group else None
        total = bands["total"].get(node.id)
        street_estimates |= estimated and node.id not in bands[group.band]
        share = survey.get(key)
        return DivisionInput(
            division_id=node.id,
            code=node.code,
            name_zh=node.name_zh,
            name_en=node.name_en,
            level=node.level.value,
            population=total[0] if total else None,
            demand=demand,
            demand_estimated=estimated,
            base=base,
            supply=supply.capacity.get(key, 0.0),
            facilities=supply.count.get(key, 0),
            without_capacity=supply.missing.get(key, 0),
            survey_share=share[0] if share else None,
            survey_n=share[1] if share else None,
            requests=requests.get(key, 0) if requests is not None else None,
        )

    units = [unit(node, at_level, node.id) for node in tree.descendants(root.id, level=level)]
    rows = match_divisions(pair, units)
    total = match_divisions(pair, [unit(root, everything, 0)])[0]
    total.rank = None  # the whole city is the yardstick, not a competitor
    estimates = _estimates(pair, group, street_estimates, everything, survey_aggregated, level)
    sources = [
        name
        for name, flag in (
            ("facilities", everything.simulated),
            ("population", population_simulated),
            ("survey", survey_simulated),
            ("requests", requests_simulated),
        )
        if flag
    ]
    return MatchResult(
        pair=PairOut.of(pair),
        level=level.value,
        population_year=population_year,
        survey_year=survey_year,
        requests_year=requests_year,
        simulated=bool(sources),
        simulated_sources=sources,
        estimates=estimates,
        unplaced_facilities=at_level.unplaced,
        total=total,
        rows=rows,
    )


def _estimates(
    pair: SupplyDemandPair,
    group: Group,
    street_estimates: bool,
    supply: _Supply,
    survey_aggregated: bool,
    level: DivisionLevel,
) -> list[str]:
    out = []
    if group.note:
        out.append(group.note)
    if street_estimates:
        out.append(
            f"{level.value} populations are totals only: the {group.name_en} of a {level.value} is its total"
            f" × its district's share of the {group.band} band / 街道只有总人口,目标人群按所在区(市)县的年龄结构比例估算"
        )
    missing = supply.missing.get(0, 0)
    if missing:
        out.append(
            f"{missing} of {supply.count.get(0, 0)} facilities have no capacity and add nothing to supply"
            f" / {missing}处设施未填容量,未计入供给"
        )
    if survey_aggregated:
        out.append(
            f"survey shares of a {level.value} are aggregated from lower levels as Σ numerator / Σ denominator"
            " / 调查占比由下级汇总(分子和/分母和)"
        )
    if pair.standard is not None and pair.standard.verified != "checked":
        out.append(
            f"standard ({pair.standard.verified}): {pair.standard.label_en}; source: {pair.standard.source}"
        )
    return out


def pairs() -> list[PairOut]:
    return [PairOut.of(pair) for pair in PAIRS.values()]
