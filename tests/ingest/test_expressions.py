"""Validation-rule expressions: the parser, its error messages, evaluation and DHIS2's rule checks."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from planwatch.errors import InvalidValueError, PlanwatchError
from planwatch.ingest.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MISSING_STRATEGIES,
    Chain,
    Expression,
    ExpressionError,
    Negate,
    Node,
    Number,
    Ref,
    check_rule,
    format_node,
    parse_expression,
)

BEDS_TOTAL = parse_expression("#{beds_total}")
BEDS_PARTS = parse_expression("#{beds_public} + #{beds_private}")

# --- examples ------------------------------------------------------------------------------------


def test_a_dhis2_rule_side_parses_to_its_references() -> None:
    expression = parse_expression("#{beds_public} + #{beds_private}")
    assert expression.refs == {"beds_public", "beds_private"}
    assert expression.node == Chain(Ref("beds_public"), (("+", Ref("beds_private")),))
    assert expression.evaluate({"beds_public": 300, "beds_private": 120}) == 420


def test_precedence_associativity_and_unary_minus() -> None:
    expression = parse_expression("-(#{a} + #{b}) * 3 / (2 - #{c}) - 1e3 + .5 - 8 - 2")
    assert expression.evaluate({"a": 1, "b": 2, "c": 1}) == -(1 + 2) * 3 / (2 - 1) - 1e3 + 0.5 - 8 - 2
    assert parse_expression("2 * -3").evaluate({}) == -6
    assert parse_expression("--4").evaluate({}) == 4
    assert parse_expression("12 / 3 / 2").evaluate({}) == 2


def test_codes_may_hold_dots_dashes_and_underscores() -> None:
    expression = parse_expression("#{fbfJHSPpUQD.pq2XI5kz2BY} * #{beds-2024_total}")
    assert expression.refs == {"fbfJHSPpUQD.pq2XI5kz2BY", "beds-2024_total"}


def test_numbers_in_every_notation() -> None:
    for text, value in [("7", 7), ("0.25", 0.25), ("3.", 3), (".5", 0.5), ("1e3", 1000), ("2.5E-2", 0.025)]:
        assert parse_expression(text).evaluate({}) == value


def test_whitespace_of_any_kind_is_ignored() -> None:
    assert parse_expression(" \t#{a}\n*\u30002 ").evaluate({"a": 4}) == 8


@pytest.mark.parametrize(
    ("text", "offset", "says"),
    [
        ("#{a} + * 2", 7, "at character 8: expected a number, #{code} or '(' but found '*'"),
        ("", 0, "found the end of the expression"),
        ("#{a} +", 6, "expected a number, #{code} or '(' but found the end of the expression"),
        ("(1 + 2", 6, "')' to close the '(' at character 1"),
        ("1 + 2)", 5, "')', which closes no '('"),
        ("1 2", 2, "expected an operator (+ - * /) or the end of the expression but found '2'"),
        ("#{a}#{b}", 4, "but found '#{b}'"),
        ("#a", 1, "expected '{' after '#'"),
        ("#{}", 2, "expected an indicator code"),
        ("#{beds total}", 6, "expected '}' to close the '#{' at character 1"),
        ("#{beds", 6, "expected '}' to close"),
        ("1e", 2, "digits of the exponent"),
        ("1 @ 2", 2, "but found '@'"),
        ("（1）", 0, "a full-width character; use '('"),
        ("1e999", 0, "the number 1e999 is too large"),
        ("3 ** 2", 3, "but found '*'"),
        ("2 \x00", 2, "but found '\\x00'"),
        ("\u0661", 0, "but found '\u0661'"),  # an Arabic-Indic digit is not a digit here
    ],
)
def test_errors_name_the_character_and_what_was_expected(text: str, offset: int, says: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert caught.value.offset == offset
    assert caught.value.message.startswith(f"at character {offset + 1}: ")
    assert says in caught.value.message


def test_the_error_belongs_to_the_exception_tree() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("1 +")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PlanwatchError)
    assert caught.value.status_code == 422


def test_length_is_limited() -> None:
    longest = "1" + " " * (MAX_LENGTH - 1)
    assert parse_expression(longest).evaluate({}) == 1
    with pytest.raises(ExpressionError, match=f"{MAX_LENGTH + 1} characters long; the limit is {MAX_LENGTH}"):
        parse_expression(longest + " ")


def test_nesting_is_limited() -> None:
    deepest = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert parse_expression(deepest).evaluate({}) == 1
    with pytest.raises(ExpressionError, match=f"nest more than {MAX_DEPTH} deep") as caught:
        parse_expression("(" + deepest + ")")
    assert caught.value.offset == MAX_DEPTH
    with pytest.raises(ExpressionError, match="nest more than"):
        parse_expression("-" * (MAX_DEPTH + 1) + "1")


def test_a_long_sum_is_a_flat_chain_not_a_deep_tree() -> None:
    text = "+".join(f"#{{x{i}}}" for i in range(300))[:MAX_LENGTH].rstrip("+#{x0123456789")
    expression = parse_expression(text)
    assert isinstance(expression.node, Chain)
    assert expression.evaluate(dict.fromkeys(expression.refs, 1.0)) == len(expression.refs)


def test_missing_values_give_none_unless_counted_as_zero() -> None:
    values = {"beds_public": 300.0, "beds_private": math.nan}
    assert BEDS_PARTS.evaluate(values) is None
    assert BEDS_PARTS.evaluate(values, missing_as_zero=True) == 300
    assert BEDS_PARTS.evaluate({}) is None
    assert BEDS_PARTS.evaluate({"beds_public": math.inf, "beds_private": 1}) is None


def test_division_by_zero_and_overflow_give_none() -> None:
    assert parse_expression("#{a} / (#{b} - 2)").evaluate({"a": 1, "b": 2}) is None
    assert parse_expression("0 / 0").evaluate({}) is None
    assert parse_expression("1e300 * 1e300").evaluate({}) is None


# --- rules ---------------------------------------------------------------------------------------


def test_the_beds_rule_passes_and_fails() -> None:
    ok = check_rule(
        BEDS_TOTAL, ">=", BEDS_PARTS, {"beds_total": 420, "beds_public": 300, "beds_private": 120}
    )
    assert ok.passed is True
    assert (ok.left, ok.right) == (420, 420)
    bad = check_rule(
        BEDS_TOTAL, ">=", BEDS_PARTS, {"beds_total": 400, "beds_public": 300, "beds_private": 120}
    )
    assert bad.passed is False


@pytest.mark.parametrize(
    ("left", "op", "right", "passed"),
    [
        ("0.1 + 0.2", "==", "0.3", True),
        ("0.1 + 0.2", "!=", "0.3", False),
        ("0.1 + 0.2", ">", "0.3", False),
        ("0.1 + 0.2", "<=", "0.3", True),
        ("0.3 - (0.1 + 0.2)", "==", "0", True),
        ("1000000", "==", "1000000.01", False),
        ("2", ">", "1", True),
        ("2", "<", "1", False),
        ("1", ">=", "2", False),
        ("1", "<", "2", True),
    ],
)
def test_comparisons_use_a_tolerance(left: str, op: str, right: str, passed: bool) -> None:
    assert check_rule(parse_expression(left), op, parse_expression(right), {}).passed is passed


def test_skip_if_any_missing_is_the_default() -> None:
    outcome = check_rule(BEDS_TOTAL, ">=", BEDS_PARTS, {"beds_total": 420, "beds_public": 300})
    assert outcome.passed is None
    assert outcome.skipped
    assert (outcome.left, outcome.right) == (420, None)


def test_skip_if_all_missing_counts_the_others_as_zero() -> None:
    some = {"beds_total": 420, "beds_public": 300}
    outcome = check_rule(BEDS_TOTAL, ">=", BEDS_PARTS, some, missing="skip_if_all_missing")
    assert (outcome.passed, outcome.left, outcome.right) == (True, 420, 300)
    nothing = check_rule(BEDS_TOTAL, ">=", BEDS_PARTS, {}, missing="skip_if_all_missing")
    assert nothing.passed is None
    constant = check_rule(
        parse_expression("1"), "<", parse_expression("2"), {}, missing="skip_if_all_missing"
    )
    assert constant.passed is True


def test_never_skip_counts_every_missing_value_as_zero() -> None:
    outcome = check_rule(BEDS_TOTAL, ">=", BEDS_PARTS, {}, missing="never_skip")
    assert (outcome.passed, outcome.left, outcome.right) == (True, 0, 0)


def test_a_side_that_divides_by_zero_skips_the_rule() -> None:
    ratio = parse_expression("#{doctors} / #{beds}")
    for missing in MISSING_STRATEGIES:
        outcome = check_rule(ratio, ">=", parse_expression("0.1"), {"doctors": 5, "beds": 0}, missing=missing)
        assert outcome.passed is None
        assert outcome.left is None


@pytest.mark.parametrize(
    ("values", "compulsory", "exclusive"),
    [
        ({"beds_total": 420, "beds_public": 300}, True, False),
        ({"beds_total": 420}, False, True),
        ({"beds_private": 20}, False, True),
        ({}, True, True),
    ],
)
def test_pairs_look_only_at_which_sides_have_data(
    values: dict[str, float], compulsory: bool, exclusive: bool
) -> None:
    for missing in MISSING_STRATEGIES:
        assert (
            check_rule(BEDS_TOTAL, "compulsory_pair", BEDS_PARTS, values, missing=missing).passed
            is compulsory
        )
        assert (
            check_rule(BEDS_TOTAL, "exclusive_pair", BEDS_PARTS, values, missing=missing).passed is exclusive
        )


def test_a_pair_reports_the_sides_it_has() -> None:
    outcome = check_rule(BEDS_TOTAL, "compulsory_pair", BEDS_PARTS, {"beds_total": 420, "beds_public": 300})
    assert (outcome.left, outcome.right) == (420, 300)
    outcome = check_rule(BEDS_TOTAL, "compulsory_pair", BEDS_PARTS, {"beds_total": 420})
    assert (outcome.left, outcome.right) == (420, None)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"operator": "=>"}, "unknown rule operator '=>'; use one of ==, !="),
        ({"missing": "skip"}, "unknown missing-value strategy 'skip'"),
        ({"tolerance": -1.0}, "the tolerance must be 0 or more"),
        ({"tolerance": math.nan}, "the tolerance must be 0 or more"),
    ],
)
def test_a_bad_rule_definition_is_refused(kwargs: dict[str, object], says: str) -> None:
    arguments: dict[str, object] = {"operator": ">=", **kwargs}
    op = str(arguments.pop("operator"))
    with pytest.raises(InvalidValueError, match=says):
        check_rule(BEDS_TOTAL, op, BEDS_PARTS, {}, **arguments)  # type: ignore[arg-type]


# --- properties ----------------------------------------------------------------------------------

GRAMMAR_CHARACTERS = "0123456789.eE+-*/()#{}_ab \t"
CODES = st.from_regex(r"[A-Za-z0-9_.\-]{1,10}", fullmatch=True)
NUMBERS = st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(abs).map(Number)
ADDITIVE = st.sampled_from("+-")
MULTIPLICATIVE = st.sampled_from("*/")


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def chain(ops: st.SearchStrategy[str]) -> st.SearchStrategy[Node]:
        rest = st.lists(st.tuples(ops, children), min_size=1, max_size=4).map(tuple)
        return st.builds(Chain, children, rest)

    return st.one_of(st.builds(Negate, children), chain(ADDITIVE), chain(MULTIPLICATIVE))


NODES: st.SearchStrategy[Node] = st.recursive(st.one_of(NUMBERS, CODES.map(Ref)), _extend, max_leaves=16)


def _readable(node: Node) -> str:
    text = format_node(node)
    assume(len(text) <= MAX_LENGTH)
    assume(text.count("(") + text.count("-") <= MAX_DEPTH)  # a cheap upper bound on the nesting
    return text


def _outcome(text: str) -> Expression | ExpressionError:
    try:
        return parse_expression(text)
    except ExpressionError as error:
        return error


@given(st.text(max_size=300) | st.text(alphabet=GRAMMAR_CHARACTERS, max_size=300))
def test_any_text_parses_or_raises_an_expression_error(text: str) -> None:
    outcome = _outcome(text)
    if isinstance(outcome, ExpressionError):
        assert outcome.message
        assert outcome.offset is None or 0 <= outcome.offset <= len(text)
    else:
        assert isinstance(outcome, Expression)


@settings(max_examples=25)
@given(st.text(alphabet=GRAMMAR_CHARACTERS, min_size=MAX_LENGTH - 20, max_size=MAX_LENGTH + 20))
def test_long_texts_parse_or_raise_quickly(text: str) -> None:
    assert isinstance(_outcome(text), Expression | ExpressionError)


@given(NODES)
def test_format_then_parse_gives_back_the_tree(node: Node) -> None:
    text = _readable(node)
    parsed = parse_expression(text)
    assert parsed.node == node
    assert format_node(parsed.node) == text


_PYTHON: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _python_value(node: Node, values: dict[str, float]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        return values[node.code]
    if isinstance(node, Negate):
        return -_python_value(node.operand, values)
    result = _python_value(node.first, values)
    for op, operand in node.rest:
        result = _PYTHON[op](result, _python_value(operand, values))
    return result


@given(NODES, st.data())
def test_evaluation_matches_python_arithmetic(node: Node, data: st.DataObject) -> None:
    expression = parse_expression(_readable(node))
    finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    values = {code: data.draw(finite, label=code) for code in sorted(expression.refs)}
    try:
        expected: float | None = _python_value(node, values)
    except ZeroDivisionError:
        expected = None
    if expected is not None and not math.isfinite(expected):
        expected = None
    assert expression.evaluate(values) == expected


@given(NODES, st.data())
def test_a_missing_value_gives_none_or_counts_as_zero(node: Node, data: st.DataObject) -> None:
    expression = parse_expression(_readable(node))
    assume(expression.refs)
    gone = data.draw(st.sampled_from(sorted(expression.refs)))
    values = dict.fromkeys(expression.refs, 1.0)
    values[gone] = math.nan
    assert expression.evaluate(values) is None
    assert expression.evaluate(values, missing_as_zero=True) == expression.evaluate({**values, gone: 0.0})


VALUES = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.floats(-1e9, 1e9), min_size=3)
SIDES = st.sampled_from(["#{a}", "#{a} + #{b}", "#{c} * 2", "#{a} - #{b} / 3", "7"]).map(parse_expression)


@given(SIDES, SIDES, VALUES)
def test_opposite_operators_give_opposite_answers(
    left: Expression, right: Expression, values: dict[str, float]
) -> None:
    def passed(op: str) -> bool | None:
        return check_rule(left, op, right, values).passed

    assert passed("==") is not passed("!=")
    assert passed(">=") is not passed("<")
    assert passed("<=") is not passed(">")


@given(SIDES, SIDES, VALUES, st.sampled_from(["==", "!=", ">", ">=", "<", "<="]))
def test_with_every_value_present_the_strategy_does_not_matter(
    left: Expression, right: Expression, values: dict[str, float], op: str
) -> None:
    outcomes = {check_rule(left, op, right, values, missing=missing) for missing in MISSING_STRATEGIES}
    assert len(outcomes) == 1
