"""How each kind of target is judged: one judge per kind, registered in ``JUDGES``.

Every judge takes a target and the evaluation context and returns a ``TargetEvaluation``; the
numeric kinds share ``_observe`` (the measure per year and the year to judge). The rules are in
``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from planwatch.divisions.tree import Node
from planwatch.evaluation.data import EvaluationContext, IndicatorData, coverage_series, scope_series
from planwatch.evaluation.forecast import LOGLINEAR, Forecast, forecast_series
from planwatch.evaluation.measures import (
    Measure,
    annual_rate_measure,
    change_measure,
    cumulative_measure,
    increment_measure,
    level_measure,
    required_rate,
    trend_check,
    yearly_increase_measure,
)
from planwatch.evaluation.progress import (
    APPROX_TOLERANCE,
    Status,
    actual_progress,
    band_progress,
    classify,
    classify_ratio,
    expected_change,
    is_met,
    progress_ratio,
    time_progress,
    trend_status,
)
from planwatch.evaluation.results import Reason, TargetEvaluation
from planwatch.evaluation.scores import target_scores
from planwatch.models import Indicator, Target
from planwatch.models.enums import Direction, TargetKind

FIXED_COMPARATORS = frozenset({">=", ">", "<=", "<", "=", "~"})


def _not_evaluable(target: Target, year: int, reason: Reason, **extra: Any) -> TargetEvaluation:
    return TargetEvaluation(target.id, target.code, year, Status.not_evaluable, reason, **extra)


def _join(reasons: list[Reason]) -> Reason | None:
    if not reasons:
        return None
    return Reason(";".join(r.zh for r in reasons), "; ".join(r.en for r in reasons))


def judge(target: Target, ctx: EvaluationContext) -> TargetEvaluation:
    if target.incomplete:
        detail = f"({target.incomplete_reason})" if target.incomplete_reason else ""
        reason = Reason(
            f"目标数值缺失(原文未给出){detail},待规划处补录(planwatch targets set)",
            "the target's number is missing in the source; a planner can fill it in (planwatch targets set)",
        )
        return _not_evaluable(target, ctx.year, reason)
    result = JUDGES[target.kind](target, ctx)
    ratio = math.nan if result.ratio is None else result.ratio
    score = float(target_scores(ratio, result.status.value, ctx.thresholds))
    result.score = None if math.isnan(score) else score
    return result


@dataclass
class _Observed:
    """A target's measure with the year it is judged on and what the reader must be told."""

    measure: Measure
    data_year: int
    notes: list[Reason]
    done: dict[str, Any]
    """The fields every judged evaluation carries (data year, actual, units …)."""

    @property
    def actual(self) -> float:
        return self.measure.by_year[self.data_year]


def _observe(
    target: Target, ctx: EvaluationContext, build: Callable[[dict[int, float]], Measure | Reason]
) -> _Observed | TargetEvaluation:
    """The measure per year and the year to judge: the shared first half of every numeric kind.
    Returns a ``not_evaluable`` evaluation when there is nothing to judge."""
    year = ctx.year
    scope = ctx.scope(target)
    data = ctx.data(target.indicator)
    notes: list[Reason] = []
    units_total: int | None = None
    meeting: dict[int, int] = {}
    if target.kind is TargetKind.per_unit_coverage:
        coverage = coverage_series(target, data, ctx.tree, scope, up_to=year)
        if isinstance(coverage, Reason):
            return _not_evaluable(target, year, coverage)
        measure, simulated, units_total, meeting, reported = coverage
    else:
        series, simulated, reported = scope_series(data, ctx.tree, scope, ctx.population, up_to=year)
        built = build(series)
        if isinstance(built, Reason):
            shown = level_measure(series, baseline=math.nan, target=math.nan)
            return _not_evaluable(target, year, built, measure=shown, simulated=simulated)
        measure = built
    extra: dict[str, Any] = {"measure": measure, "simulated": simulated}
    base, deadline = target.baseline_year, target.deadline_year
    if year <= base:
        reason = Reason("评估年份不晚于基期,尚无进度可评", "the evaluation year is not after the base year")
        return _not_evaluable(target, year, reason, **extra)
    if deadline <= base:
        reason = Reason("目标年不晚于基期,无法计算序时进度", "the deadline is not after the base year")
        return _not_evaluable(target, year, reason, **extra)
    horizon = min(year, deadline)  # after its deadline a target is judged on its deadline year
    available = [y for y, v in measure.by_year.items() if base < y <= horizon and not math.isnan(v)]
    if not available:
        reason = Reason(f"基期后至{horizon}年无数据", f"no data after the base year up to {horizon}")
        if measure.values and any(base < y <= horizon for y in measure.values):
            reason = Reason(
                f"基期后至{horizon}年的数据无法计算{measure.label_zh}",
                f"no {measure.label_en} up to {horizon}",
            )
        return _not_evaluable(target, year, reason, **extra)
    data_year = max(available)
    if horizon < year:
        notes.append(
            Reason(f"目标年为{deadline}年,按目标年评估", f"the deadline was {deadline}; judged on {deadline}")
        )
    if data_year < horizon and not measure.per_period:
        notes.append(
            Reason(
                f"{horizon}年无数据,按{data_year}年数据评估",
                f"no data for {horizon}; evaluated on {data_year}",
            )
        )
    notes.extend(_gap_notes(measure, base, data_year))
    notes.extend(_reporting_notes(target, measure, reported, base, data_year))
    notes.extend(_partial_year_notes(data, ctx, scope, base, horizon))
    done: dict[str, Any] = {
        "data_year": data_year,
        "actual": measure.by_year[data_year],
        "baseline": measure.baseline,
        "simulated": simulated,
        "measure": measure,
        "units_total": units_total,
        "units_meeting": meeting.get(data_year),
        "units_reported": reported.get(data_year, (None, None))[0],
        "units_expected": reported.get(data_year, (None, None))[1],
    }
    return _Observed(measure, data_year, notes, done)


def _fixed_comparator(target: Target) -> Reason | None:
    """A reason when the target has neither a fixed comparator nor a range."""
    has_band = target.range_low is not None and target.range_high is not None
    if target.comparator.value in FIXED_COMPARATORS or has_band:
        return None
    return Reason(
        f"“{target.comparator.zh}”不是{target.kind.zh}类目标可评估的比较方式",
        f"comparator '{target.comparator.value}' cannot be evaluated for a {target.kind.value} target",
    )


def _judge_progress(target: Target, ctx: EvaluationContext) -> TargetEvaluation:
    """Level, increment, cumulative, per-unit coverage and relative targets: π against τ."""
    year = ctx.year
    problem = _fixed_comparator(target)
    if problem is not None:
        return _not_evaluable(target, year, problem)
    reference: dict[int, float] | None = None
    if target.kind is TargetKind.relative:
        found = _reference_series(target, ctx)
        if isinstance(found, Reason):
            return _not_evaluable(target, year, found)
        reference = found
    obs = _observe(
        target,
        ctx,
        lambda series: _measure(target, series, baseline=_baseline(target, ctx, series), reference=reference),
    )
    if isinstance(obs, TargetEvaluation):
        return obs
    if target.kind is TargetKind.relative:
        settled = _settle_reference(target, obs, ctx)
        if isinstance(settled, Reason):
            return _not_evaluable(target, year, settled, measure=obs.measure, simulated=obs.done["simulated"])
        obs = settled
    measure, data_year, notes, done = obs.measure, obs.data_year, obs.notes, obs.done
    base, deadline = target.baseline_year, target.deadline_year
    actual = obs.actual
    met = _met(target, actual, measure)
    if measure.per_period:
        return _per_period(target, year, measure, data_year, notes, done)
    if math.isnan(measure.baseline):
        if data_year >= deadline and target.kind in {TargetKind.level, TargetKind.relative}:
            notes.append(
                Reason(
                    "缺少基期数据,按目标年数值直接判定",
                    "no baseline: judged at the deadline on the value alone",
                )
            )
            status = Status.achieved if met else Status.missed
            return TargetEvaluation(
                target.id, target.code, year, status, _join(notes), target=measure.target, tau=1.0, **done
            )
        reason = Reason(f"缺少基期({base}年)数据", f"no baseline: no data for the base year {base}")
        return _not_evaluable(target, year, reason, measure=measure, simulated=done["simulated"])
    tau = float(time_progress(data_year, base, deadline))
    band = _band(target, measure)
    # a coverage share always has to rise (to 100 %), whatever the indicator counts
    higher = (
        target.indicator.direction is Direction.higher_better or target.kind is TargetKind.per_unit_coverage
    )
    if band is not None:
        goal = band[0] if measure.baseline < band[0] else band[1]
        pi = float(band_progress(actual, measure.baseline, *band, met=met))
    else:
        goal = measure.target
        pi = float(actual_progress(actual, measure.baseline, goal, higher_is_better=higher, met=met))
    status = Status(str(classify(tau, pi, met, ctx.thresholds)))
    projection = _forecast(
        {y: v for y, v in measure.by_year.items() if base <= y <= data_year},
        target,
        data_year,
        goal=goal,
        band=band,
        baseline=measure.baseline,
        higher=higher,
    )
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        target=goal,
        tau=tau,
        pi=pi,
        ratio=float(progress_ratio(tau, pi)),
        forecast=projection,
        **done,
    )


def _forecast(
    series: dict[int, float],
    target: Target,
    data_year: int,
    *,
    goal: float,
    band: tuple[float, float] | None,
    baseline: float,
    higher: bool,
    model: str = "linear",
) -> Forecast | None:
    """The projection at the deadline (docs/evaluation.md §forecast); none once the deadline has data."""
    if data_year >= target.deadline_year:
        return None
    low, high = band if band is not None and band[0] != band[1] else (None, None)
    return forecast_series(
        series,
        deadline=target.deadline_year,
        target=None if low is not None else goal,
        baseline=baseline,
        higher_is_better=higher,
        low=low,
        high=high,
        model=model,
    )


def _reference_series(target: Target, ctx: EvaluationContext) -> dict[int, float] | Reason:
    """The reference a relative target (高于国家标准) is compared with: another indicator's values
    at the same scope, loaded as data like any other."""
    reference_id = target.reference_indicator_id
    described = f"“{target.reference}”" if target.reference else ""
    if reference_id is None:
        return Reason(
            f"相对目标未指定参照指标{described}:请在目录中为该目标填写 reference_indicator,并导入参照数据",
            "a relative target needs a reference series: set reference_indicator in the catalogue and"
            " import the reference values as data",
        )
    indicator = ctx.session.get(Indicator, reference_id)
    assert indicator is not None  # noqa: S101 - a foreign key
    scope = ctx.scope(target)
    series, _, _ = scope_series(ctx.data(indicator), ctx.tree, scope, ctx.population, up_to=ctx.year)
    if not series:
        return Reason(
            f"参照指标“{indicator.name_zh}”({indicator.code})尚无数据,请导入参照值(如国家或省标准)",
            f"the reference indicator {indicator.code} has no values yet; import them (e.g. the national"
            " or provincial standard)",
        )
    return series


def _settle_reference(target: Target, obs: _Observed, ctx: EvaluationContext) -> _Observed | Reason:
    """Fix a relative target's goal to the reference value of the data year (or the latest before)."""
    reference = obs.measure.reference
    years = [y for y in reference if y <= obs.data_year and not math.isnan(reference[y])]
    if not years:
        return Reason(
            f"参照指标在{obs.data_year}年及以前无数据", f"the reference has no value up to {obs.data_year}"
        )
    used = max(years)
    indicator = ctx.session.get(Indicator, target.reference_indicator_id)
    name_zh = indicator.name_zh if indicator else "参照指标"
    name_en = (indicator.name_en or indicator.code) if indicator else "the reference"
    notes = list(obs.notes)
    notes.append(
        Reason(
            f"参照“{name_zh}”{used}年为{_fmt(reference[used])}",
            f"reference: {name_en} in {used} is {_fmt(reference[used])}",
        )
    )
    measure = replace(obs.measure, target=reference[used])
    done = {**obs.done, "measure": measure}
    return _Observed(measure, obs.data_year, notes, done)


def _fmt(value: float) -> str:
    return f"{value:,.4g}"


def _signed(value: float) -> str:
    """A change with its sign: whole numbers from 1,000 up (−12,200), else 4 significant digits."""
    return f"{value:+,.0f}" if abs(value) >= 1000 else f"{value:+.4g}"


def _judge_rate(target: Target, ctx: EvaluationContext) -> TargetEvaluation:
    """年均增长 r % (average_annual_rate) and 降低/提高 r % (rate_of_change): the achieved rate or
    cumulative change against the required one, on one scale of cut-offs (``classify_ratio``)."""
    year = ctx.year
    problem = _fixed_comparator(target)
    if problem is not None:
        return _not_evaluable(target, year, problem)
    # a ceiling (控制在年均 r % 以内) caps the growth itself, whichever way the indicator improves
    ceiling = target.comparator.value in {"<=", "<"} and target.range_low is None
    higher = ceiling or target.indicator.direction is Direction.higher_better
    obs = _observe(
        target, ctx, lambda series: _rate_measure(target, series, ctx=ctx, higher_is_better=higher)
    )
    if isinstance(obs, TargetEvaluation):
        return obs
    measure, data_year, notes = obs.measure, obs.data_year, obs.notes
    base, deadline = target.baseline_year, target.deadline_year
    tau = float(time_progress(data_year, base, deadline))
    final = data_year >= deadline
    band = _band(target, measure)
    required = band[0] if band is not None else measure.target
    actual = obs.actual
    met = _met(target, actual, measure)
    annual = target.kind is TargetKind.average_annual_rate
    if ceiling or required <= 0:
        # a ceiling, or a required rate of zero or less: kept or not, there is no pace to compare with
        ratio = math.nan
        kept = Status.achieved if final else Status.on_track
        status = kept if met else Status.missed if final else Status.lagging
        if not ceiling:
            notes.append(
                Reason(
                    f"目标为{_fmt(required)}%,不计进度比,按是否达到判定",
                    f"the target of {_fmt(required)} % has no pace: judged on whether it is met",
                )
            )
    else:
        expected = required if annual else float(expected_change(required, tau, higher_is_better=higher))
        ratio = actual / expected
        # an average rate is only achieved over the whole period; a cumulative change can be early
        counts = met and (final or not annual)
        status = Status(str(classify_ratio(ratio, counts, final=final, thresholds=ctx.thresholds)))
        if not annual:
            notes.append(
                Reason(
                    f"按复利路径,{data_year}年应{measure.label_zh[3:5]}{expected:.2f}%",
                    f"the compounding path expects {expected:.2f} % by {data_year}",
                )
            )
    start = measure.start
    goal_level = _implied_level(start, required, target, higher=higher)
    if annual and not final and not met and not ceiling:
        notes.append(_rest_of_period(measure, goal_level, target, data_year, higher=higher))
    # the forecast projects the level the target implies at the deadline, not the rate
    projection = _forecast(
        {y: v for y, v in measure.values.items() if base <= y <= data_year},
        target,
        data_year,
        goal=goal_level,
        band=None,
        baseline=start,
        higher=higher and not ceiling,
        model=LOGLINEAR,
    )
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        target=required,
        tau=tau,
        pi=actual / required if required else math.nan,
        ratio=ratio,
        forecast=projection,
        forecast_scale="value",
        **obs.done,
    )


def _implied_level(start: float, rate: float, target: Target, *, higher: bool) -> float:
    """The indicator's value a rate target implies at its deadline: start·(1 ± r)^years for an
    average annual rate, start·(1 ± r) for a cumulative change."""
    step = 1.0 + (1.0 if higher else -1.0) * rate / 100.0
    if target.kind is TargetKind.average_annual_rate:
        return start * step ** (target.deadline_year - target.baseline_year)
    return start * step


def _rest_of_period(measure: Measure, goal: float, target: Target, data_year: int, *, higher: bool) -> Reason:
    """What the remaining years need for an average-rate target to still be met."""
    deadline = target.deadline_year
    needed = (1.0 if higher else -1.0) * required_rate(
        current=measure.values[data_year], goal=goal, years_left=deadline - data_year
    )
    word_zh = "增长" if higher else "下降"
    word_en = "growth" if higher else "decline"
    return Reason(
        f"剩余{deadline - data_year}年需年均{word_zh}{needed:.2f}%方能实现",
        f"the remaining {deadline - data_year} years need {needed:.2f} % average annual {word_en}",
    )


def _baseline(target: Target, ctx: EvaluationContext, series: Mapping[int, float]) -> float:
    """The catalogue's baseline value where the target is judged at its own scope; below it (a
    district of a city target) the division's own value in the base year."""
    own_scope = ctx.scope_id is None or ctx.scope_id == target.scope_division_id
    if target.baseline_value is not None and own_scope:
        return target.baseline_value
    return series.get(target.baseline_year, math.nan)


def _rate_measure(
    target: Target, series: dict[int, float], *, ctx: EvaluationContext, higher_is_better: bool
) -> Measure | Reason:
    base = target.baseline_year
    baseline = _baseline(target, ctx, series)
    if math.isnan(baseline):
        return Reason(f"缺少基期({base}年)数据", f"no baseline: no data for the base year {base}")
    if baseline <= 0:
        return Reason(
            f"基期值为{_fmt(baseline)},不为正数,无法计算增速",
            f"the baseline {_fmt(baseline)} is not positive",
        )
    goal = target.value if target.value is not None else math.nan
    build = annual_rate_measure if target.kind is TargetKind.average_annual_rate else change_measure
    measure = build(series, base_year=base, baseline=baseline, target=goal, higher_is_better=higher_is_better)
    return replace(measure, start=baseline)


def _judge_trend(target: Target, ctx: EvaluationContext) -> TargetEvaluation:
    """持续下降 / 逐年提高: the direction of the latest year-on-year changes (``trend_status``)."""
    year = ctx.year
    if target.comparator.value not in {"increase", "decrease"}:
        reason = Reason(
            "趋势目标须为“持续上升”或“持续下降”", "a trend target's comparator must be increase or decrease"
        )
        return _not_evaluable(target, year, reason)
    base = target.baseline_year

    def build(series: dict[int, float]) -> Measure:
        return level_measure(series, baseline=_baseline(target, ctx, series), target=math.nan)

    obs = _observe(target, ctx, build)
    if isinstance(obs, TargetEvaluation):
        return obs
    measure = obs.measure
    if math.isnan(measure.baseline):
        reason = Reason(f"缺少基期({base}年)数据", f"no baseline: no data for the base year {base}")
        return _not_evaluable(target, year, reason, measure=measure, simulated=obs.done["simulated"])
    increasing = target.comparator.value == "increase"
    check = trend_check(
        measure.values,
        base_year=base,
        up_to=obs.data_year,
        window=ctx.thresholds.trend_window,
        increasing=increasing,
        baseline=measure.baseline,
    )
    if check is None:
        reason = Reason(
            "判断趋势需要相邻两年的数据,基期后尚无", "a trend needs two consecutive years after the base year"
        )
        return _not_evaluable(target, year, reason, measure=measure, simulated=obs.done["simulated"])
    sign = 1.0 if increasing else -1.0
    final = obs.data_year >= target.deadline_year
    status = Status(str(trend_status(check.share, check.overall * sign > 0, final=final)))
    word = "上升" if increasing else "下降"
    listed_zh = "、".join(f"{y}年{_signed(change)}" for y, change in check.changes.items())
    listed_en = ", ".join(f"{y}: {_signed(change)}" for y, change in check.changes.items())
    notes = [
        *obs.notes,
        Reason(
            f"近{len(check.changes)}个年度变化中{check.right}个为{word}({listed_zh});较基期{_signed(check.overall)}",
            f"{check.right} of the last {len(check.changes)} year-on-year changes went "
            f"{'up' if increasing else 'down'} ({listed_en}); {_signed(check.overall)} since the base year",
        ),
    ]
    tau = float(time_progress(obs.data_year, base, target.deadline_year))
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        tau=tau,
        pi=check.share,
        ratio=math.nan,  # a trend has no pace: it scores the middle of its status's band
        **obs.done,
    )


def _judge_qualitative(target: Target, ctx: EvaluationContext) -> TargetEvaluation:
    """A qualitative target takes the status of its latest manual assessment (人工评估)."""
    assessment = ctx.assessments.get(target.id)
    if assessment is None:
        reason = Reason(
            "定性目标,尚无人工评估:规划处可在目标页或用 planwatch evaluate assess 录入结论、证据、评估人和日期",
            "a qualitative target with no assessment yet: a planner records one (status, evidence, assessor,"
            " date) on the target page or with planwatch evaluate assess",
        )
        return _not_evaluable(target, ctx.year, reason)
    reason = Reason(
        f"{assessment.year}年度人工评估({assessment.assessor},{assessment.assessed_on.isoformat()}):"
        f"{assessment.evidence}",
        f"manual assessment of {assessment.year} by {assessment.assessor} on "
        f"{assessment.assessed_on.isoformat()}: {assessment.evidence}",
    )
    return TargetEvaluation(
        target.id, target.code, ctx.year, Status(assessment.status), reason, data_year=assessment.year
    )


JUDGES: dict[TargetKind, Callable[[Target, EvaluationContext], TargetEvaluation]] = {
    TargetKind.level: _judge_progress,
    TargetKind.increment: _judge_progress,
    TargetKind.cumulative: _judge_progress,
    TargetKind.per_unit_coverage: _judge_progress,
    TargetKind.relative: _judge_progress,
    TargetKind.average_annual_rate: _judge_rate,
    TargetKind.rate_of_change: _judge_rate,
    TargetKind.trend: _judge_trend,
    TargetKind.qualitative: _judge_qualitative,
}
"""How each kind of target is judged; every kind is registered here."""


def _per_period(
    target: Target, year: int, measure: Measure, data_year: int, notes: list[Reason], done: dict[str, Any]
) -> TargetEvaluation:
    """每年新增 N: each year is complete once it has data and must meet N on its own. A year that
    fell short is lost for good (``missed``); while every judged year met it the target is
    ``on_track`` before the deadline year is judged and ``achieved`` once it is."""
    judged = {y: v for y, v in measure.by_year.items() if y <= data_year and not math.isnan(v)}
    short = sorted(y for y, v in judged.items() if not _met(target, v, measure))
    listed = "、".join(map(str, short))
    notes.append(
        Reason(
            f"逐年考核:{len(judged)}年中{len(judged) - len(short)}年达标"
            + (f",{listed}年未达标" if short else ""),
            f"judged year by year: met in {len(judged) - len(short)} of {len(judged)} years"
            + (f"; short in {', '.join(map(str, short))}" if short else ""),
        )
    )
    actual = measure.by_year[data_year]
    pi = actual / measure.target if measure.target else math.nan
    done_all = data_year >= target.deadline_year
    status = Status.missed if short else Status.achieved if done_all else Status.on_track
    tau = float(time_progress(data_year, target.baseline_year, target.deadline_year))
    return TargetEvaluation(
        target.id,
        target.code,
        year,
        status,
        _join(notes),
        target=measure.target,
        tau=tau,
        pi=pi,
        ratio=math.nan,
        **done,
    )


def _partial_year_notes(
    data: IndicatorData, ctx: EvaluationContext, scope: Node, base: int, up_to: int
) -> list[Reason]:
    """Name the years up to ``up_to`` whose months or quarters are incomplete in the scope: a
    mean or last value then stands for the year, and an incomplete sum is left out."""
    if not data.partial:
        return []
    inside = {scope.id} | {n.id for n in ctx.tree.descendants(scope.id)}
    found = []
    for year in sorted(y for y in data.partial if base <= y <= up_to):
        shares = [pe for division, pe in data.partial[year].items() if division in inside]
        if shares:
            present, expected = min(shares)
            found.append((year, present, expected))
    if not found:
        return []
    summed = data.indicator.period_aggregation.value == "sum"
    zh = "、".join(f"{y}年仅{p}/{e}期" for y, p, e in found)
    en = ", ".join(f"{y}: {p} of {e} periods" for y, p, e in found)
    if summed:
        return [
            Reason(f"月度/季度数据不全({zh}),该年合计不计", f"incomplete years left out of the sums ({en})")
        ]
    return [
        Reason(
            f"月度/季度数据不全({zh}),按已有期数计", f"incomplete years taken from the periods present ({en})"
        )
    ]


def _gap_notes(measure: Measure, base: int, data_year: int) -> list[Reason]:
    gaps = [y for y in measure.gaps if base < y <= data_year]
    if not gaps:
        return []
    listed = "、".join(map(str, gaps))
    if measure.per_period:
        return [
            Reason(
                f"{listed}年缺少数据,当年新增无法计算",
                f"no increase can be computed for {', '.join(map(str, gaps))}",
            )
        ]
    return [
        Reason(f"{listed}年无数据,累计未计入", f"no data for {', '.join(map(str, gaps))}: not in the sum")
    ]


def _reporting_notes(
    target: Target, measure: Measure, reported: dict[int, tuple[int, int]], base: int, data_year: int
) -> list[Reason]:
    """Name every year behind the figure in which fewer units reported than exist."""
    if target.kind is TargetKind.cumulative or measure.per_period:
        years = [y for y in sorted(reported) if base <= y <= data_year]
    else:
        years = [base, data_year]
    partial = [(y, *reported[y]) for y in years if y in reported and reported[y][0] < reported[y][1]]
    if not partial:
        return []
    zh = "、".join(f"{y}年{got}/{expected}" for y, got, expected in partial)
    en = ", ".join(f"{y}: {got} of {expected}" for y, got, expected in partial)
    return [Reason(f"部分单元未报送数据({zh})", f"not every unit reported ({en} units)")]


def _band(target: Target, measure: Measure) -> tuple[float, float] | None:
    """The band a two-sided target (a range, ``=`` or ``~``) must land in, else None."""
    if target.range_low is not None and target.range_high is not None:
        return target.range_low, target.range_high
    value = measure.target
    if target.kind is not TargetKind.level or math.isnan(value):
        return None
    if target.comparator.value == "=":
        return value, value
    if target.comparator.value == "~":
        spread = abs(value) * APPROX_TOLERANCE
        return value - spread, value + spread
    return None


def _met(target: Target, actual: float, measure: Measure) -> bool:
    if target.kind is TargetKind.per_unit_coverage:
        return actual >= 100.0 - 1e-9
    if target.range_low is not None and target.range_high is not None:
        return bool(is_met(actual, "=", low=target.range_low, high=target.range_high))
    return bool(is_met(actual, target.comparator.value, measure.target))


def _measure(
    target: Target, series: dict[int, float], *, baseline: float, reference: dict[int, float] | None = None
) -> Measure:
    base = target.baseline_year
    goal = target.value if target.value is not None else math.nan
    if reference is not None:  # relative: the goal is the reference value, settled per data year
        return replace(level_measure(series, baseline=baseline, target=math.nan), reference=reference)
    if target.kind is TargetKind.cumulative:
        return cumulative_measure(series, base_year=base, target=goal)
    if target.kind is TargetKind.increment and target.per == "年":
        return yearly_increase_measure(series, base_year=base, target=goal)
    if target.kind is TargetKind.increment and not math.isnan(baseline):
        return increment_measure(series, base_year=base, baseline=baseline, target=goal)
    # a level target, or an increment without its base-year stock: show the values themselves
    return level_measure(series, baseline=baseline, target=goal)
