"""Validation-rule expressions, DHIS2-style: ``#{beds_total} >= #{beds_public} + #{beds_private}``.

A rule has a left expression, an operator and a right expression. An expression is built from
numbers (``12``, ``0.5``, ``1e3``), indicator references ``#{code}`` (code: letters, digits,
``_ . -``), the binary operators ``+ - * /``, unary minus, brackets and whitespace.

The text is read by a small tokenizer and a recursive-descent parser into a tiny tree
(:class:`Number`, :class:`Ref`, :class:`Negate`, :class:`Chain`); nothing the user typed is ever
handed to ``eval``. The text is limited to :data:`MAX_LENGTH` characters and brackets plus minus
signs to :data:`MAX_DEPTH` levels, so parsing and evaluation never recurse without bound. A run of
operators of one precedence (``a + b - c + ...``) is one flat :class:`Chain`, not a deep tree, so
a sum of hundreds of codes is as shallow as a sum of two.

:func:`check_rule` compares two expressions with DHIS2's operators and missing-value strategies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from planwatch.errors import InvalidValueError, PlanwatchError

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MISSING_STRATEGIES",
    "OPERATORS",
    "Chain",
    "Expression",
    "ExpressionError",
    "Negate",
    "Node",
    "Number",
    "Ref",
    "RuleOutcome",
    "check_rule",
    "format_node",
    "parse_expression",
]

MAX_LENGTH = 2000
"""Longest expression text accepted, in characters."""
MAX_DEPTH = 50
"""Deepest nesting of brackets and unary minus signs accepted."""

OPERATORS = ("==", "!=", ">", ">=", "<", "<=", "compulsory_pair", "exclusive_pair")
MISSING_STRATEGIES = ("skip_if_any_missing", "skip_if_all_missing", "never_skip")

_ADDITIVE = frozenset("+-")
_MULTIPLICATIVE = frozenset("*/")
_DIGITS = frozenset("0123456789")
_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_OPERAND = "a number, #{code} or '('"


class ExpressionError(PlanwatchError, ValueError):
    """An expression that cannot be read. ``message`` names the character and what was expected.

    ``offset`` is the 0-based index into the text (``None`` when the error is about the whole
    text); the message counts characters from 1, as people do.
    """

    status_code = 422

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"at character {offset + 1}: {message}")


# --- the tree ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A non-negative number literal (``-3`` is ``Negate(Number(3.0))``)."""

    value: float


@dataclass(frozen=True)
class Ref:
    """A reference ``#{code}`` to an indicator's value."""

    code: str


@dataclass(frozen=True)
class Negate:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class Chain:
    """``first op1 x1 op2 x2 ...`` applied left to right, all operators ``+ -`` or all ``* /``."""

    first: Node
    rest: tuple[tuple[str, Node], ...]

    def __post_init__(self) -> None:
        ops = {op for op, _ in self.rest}
        if not self.rest or not (ops <= _ADDITIVE or ops <= _MULTIPLICATIVE):
            raise ValueError(f"a Chain needs one or more operators, all '+ -' or all '* /', not {ops}")

    @property
    def additive(self) -> bool:
        return self.rest[0][0] in _ADDITIVE


Node: TypeAlias = Number | Ref | Negate | Chain


def format_node(node: Node) -> str:
    """Canonical text of a tree, with only the brackets it needs; ``parse_expression`` reads it back
    to the same tree."""
    if isinstance(node, Number):
        return repr(node.value)
    if isinstance(node, Ref):
        return f"#{{{node.code}}}"
    if isinstance(node, Negate):
        inner = format_node(node.operand)
        return f"-({inner})" if isinstance(node.operand, Chain) else f"-{inner}"
    parts = [_format_operand(node.first, node)]
    for op, operand in node.rest:
        parts += [op, _format_operand(operand, node)]
    return " ".join(parts)


def _format_operand(child: Node, parent: Chain) -> str:
    text = format_node(child)
    # Only a product inside a sum goes without brackets; any other chain in a chain needs them
    # (a sum in a sum too: the parser would otherwise flatten it into its parent).
    if isinstance(child, Chain) and not (parent.additive and not child.additive):
        return f"({text})"
    return text


# --- tokenizer -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "ref", "op", "(", ")", "end"
    text: str
    offset: int
    value: float = 0.0


def _show(text: str) -> str:
    """A character or token as the user should see it in a message."""
    if not text:
        return "the end of the expression"
    shown = f"'{text}'" if text.isprintable() else repr(text)
    if len(text) == 1 and 0xFF01 <= ord(text) <= 0xFF5E:  # full-width forms, easy to type in Chinese
        shown += f" (a full-width character; use '{chr(ord(text) - 0xFEE0)}')"
    return shown


def _scan_number(text: str, start: int) -> _Token:
    i = start
    n = len(text)
    while i < n and text[i] in _DIGITS:
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and text[i] in _DIGITS:
            i += 1
    if i == start + 1 and text[start] == ".":
        raise ExpressionError(f"expected a digit after '.' but found {_show(text[i : i + 1])}", offset=i)
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j >= n or text[j] not in _DIGITS:
            raise ExpressionError(
                f"expected the digits of the exponent after {_show(text[i:j])} but found {_show(text[j : j + 1])}",
                offset=j,
            )
        while j < n and text[j] in _DIGITS:
            j += 1
        i = j
    literal = text[start:i]
    value = float(literal)
    if not math.isfinite(value):
        raise ExpressionError(f"the number {literal} is too large", offset=start)
    return _Token("number", literal, start, value)


def _scan_ref(text: str, start: int) -> _Token:
    n = len(text)
    if start + 1 >= n or text[start + 1] != "{":
        raise ExpressionError(
            f"expected '{{' after '#' (write #{{code}}) but found {_show(text[start + 1 : start + 2])}",
            offset=start + 1,
        )
    i = start + 2
    while i < n and text[i] in _CODE_CHARS:
        i += 1
    if i == start + 2:
        raise ExpressionError(
            f"expected an indicator code (letters, digits, _ . -) after '#{{' but found {_show(text[i : i + 1])}",
            offset=i,
        )
    if i >= n or text[i] != "}":
        raise ExpressionError(
            f"expected '}}' to close the '#{{' at character {start + 1}, or more of the code "
            f"(letters, digits, _ . -), but found {_show(text[i : i + 1])}",
            offset=i,
        )
    return _Token("ref", text[start : i + 1], start)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _DIGITS or c == ".":
            token = _scan_number(text, i)
            tokens.append(token)
            i += len(token.text)
        elif c == "#":
            token = _scan_ref(text, i)
            tokens.append(token)
            i += len(token.text)
        elif c in "+-*/":
            tokens.append(_Token("op", c, i))
            i += 1
        elif c in "()":
            tokens.append(_Token(c, c, i))
            i += 1
        else:
            raise ExpressionError(
                f"expected a number, #{{code}}, an operator (+ - * /) or a bracket but found {_show(c)}",
                offset=i,
            )
    tokens.append(_Token("end", "", n))
    return tokens


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | number | ref | '(' expr ')'."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def parse(self) -> Node:
        node = self.expr()
        token = self.peek()
        if token.kind != "end":
            found = _show(token.text)
            if token.kind == ")":
                found += ", which closes no '('"
            raise ExpressionError(
                f"expected an operator (+ - * /) or the end of the expression but found {found}",
                offset=token.offset,
            )
        return node

    def chain(self, ops: frozenset[str], operand: Callable[[], Node]) -> Node:
        first = operand()
        rest: list[tuple[str, Node]] = []
        while (token := self.peek()).kind == "op" and token.text in ops:
            self.pos += 1
            rest.append((token.text, operand()))
        return Chain(first, tuple(rest)) if rest else first

    def expr(self) -> Node:
        return self.chain(_ADDITIVE, self.term)

    def term(self) -> Node:
        return self.chain(_MULTIPLICATIVE, self.unary)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                f"brackets and minus signs nest more than {MAX_DEPTH} deep; simplify the expression",
                offset=token.offset,
            )

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "-":
            self.pos += 1
            self.enter(token)
            node: Node = Negate(self.unary())
            self.depth -= 1
            return node
        if token.kind == "number":
            self.pos += 1
            return Number(token.value)
        if token.kind == "ref":
            self.pos += 1
            return Ref(token.text[2:-1])
        if token.kind == "(":
            self.pos += 1
            self.enter(token)
            node = self.expr()
            self.depth -= 1
            close = self.peek()
            if close.kind != ")":
                raise ExpressionError(
                    f"expected an operator (+ - * /) or ')' to close the '(' at character "
                    f"{token.offset + 1} but found {_show(close.text)}",
                    offset=close.offset,
                )
            self.pos += 1
            return node
        raise ExpressionError(f"expected {_OPERAND} but found {_show(token.text)}", offset=token.offset)


# --- expressions ---------------------------------------------------------------------------------


class _UndefinedError(Exception):
    """Division by zero inside an evaluation."""


def _refs(node: Node) -> set[str]:
    if isinstance(node, Ref):
        return {node.code}
    if isinstance(node, Negate):
        return _refs(node.operand)
    if isinstance(node, Chain):
        found = _refs(node.first)
        for _, operand in node.rest:
            found |= _refs(operand)
        return found
    return set()


def _evaluate(node: Node, values: Mapping[str, float]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Ref):
        return values[node.code]
    if isinstance(node, Negate):
        return -_evaluate(node.operand, values)
    result = _evaluate(node.first, values)
    for op, operand in node.rest:
        right = _evaluate(operand, values)
        if op == "+":
            result += right
        elif op == "-":
            result -= right
        elif op == "*":
            result *= right
        elif right == 0:
            raise _UndefinedError
        else:
            result /= right
    return result


def _present(values: Mapping[str, float], code: str) -> float | None:
    """The value of ``code``, or ``None`` when absent or not a finite number (NaN is how pandas
    writes a missing value)."""
    value = values.get(code)
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the indicator codes it references, and its tree."""

    text: str
    refs: frozenset[str]
    node: Node = field(repr=False)

    def evaluate(self, values: Mapping[str, float], *, missing_as_zero: bool = False) -> float | None:
        """The value of the expression for ``values`` (indicator code → value).

        Parameters
        ----------
        values
            Indicator values by code. A code that is absent, or whose value is not a finite
            number (NaN, ±inf), is missing.
        missing_as_zero
            Count missing values as 0 instead of answering ``None``.

        Returns
        -------
        float or None
            ``None`` when a referenced value is missing (unless ``missing_as_zero``), on division
            by zero, or when the result overflows to a non-finite number.
        """
        resolved: dict[str, float] = {}
        for code in self.refs:
            value = _present(values, code)
            if value is None:
                if not missing_as_zero:
                    return None
                value = 0.0
            resolved[code] = value
        try:
            result = _evaluate(self.node, resolved)
        except _UndefinedError:
            return None
        return result if math.isfinite(result) else None


def parse_expression(text: str) -> Expression:
    """Read an expression such as ``#{beds_public} + #{beds_private}``.

    Raises
    ------
    ExpressionError
        The text is too long, nests too deeply or does not follow the grammar; the message names
        the character and what was expected there.
    """
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}. "
            "Split the rule into smaller ones."
        )
    node = _Parser(_tokenize(text)).parse()
    return Expression(text, frozenset(_refs(node)), node)


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleOutcome:
    """The result of checking one rule on one set of values."""

    passed: bool | None
    """``None``: skipped, because values are missing under the strategy or a side is undefined."""
    left: float | None
    right: float | None

    @property
    def skipped(self) -> bool:
        return self.passed is None


def _has_data(side: Expression, values: Mapping[str, float]) -> bool:
    # A side of constants always has a value; otherwise any one reported reference is enough.
    return not side.refs or any(_present(values, code) is not None for code in side.refs)


def _compare(left: float, operator: str, right: float, tolerance: float) -> bool:
    equal = math.isclose(left, right, rel_tol=tolerance, abs_tol=tolerance)
    if operator == "==":
        return equal
    if operator == "!=":
        return not equal
    if operator == ">":
        return left > right and not equal
    if operator == ">=":
        return left > right or equal
    if operator == "<":
        return left < right and not equal
    return left < right or equal  # "<="


def check_rule(
    left: Expression,
    operator: str,
    right: Expression,
    values: Mapping[str, float],
    *,
    missing: str = "skip_if_any_missing",
    tolerance: float = 1e-9,
) -> RuleOutcome:
    """Check ``left operator right`` on one set of values, as DHIS2 does.

    Parameters
    ----------
    left, right
        The two sides.
    operator
        One of :data:`OPERATORS`. ``compulsory_pair`` passes when both sides have data or
        neither does; ``exclusive_pair`` passes when at most one does. A side has data when any
        of its references has a value (a side of constants always has); pairs ignore ``missing``.
    values
        Indicator values by code; absent codes and non-finite values are missing.
    missing
        One of :data:`MISSING_STRATEGIES`. ``skip_if_any_missing`` skips the rule when any
        reference on either side is missing; ``skip_if_all_missing`` skips it only when the rule
        has references and all of them are missing, counting the others as 0; ``never_skip``
        counts every missing value as 0.
    tolerance
        Relative tolerance of the comparisons (also used as an absolute one, so that
        ``#{a} - #{b} == 0`` holds for 0.3 and 0.1 + 0.2).

    Returns
    -------
    RuleOutcome
        ``passed`` is ``None`` when the rule is skipped, including when a side divides by zero.
    """
    if operator not in OPERATORS:
        raise InvalidValueError(f"unknown rule operator {operator!r}; use one of {', '.join(OPERATORS)}")
    if missing not in MISSING_STRATEGIES:
        raise InvalidValueError(
            f"unknown missing-value strategy {missing!r}; use one of {', '.join(MISSING_STRATEGIES)}"
        )
    if not tolerance >= 0:
        raise InvalidValueError(f"the tolerance must be 0 or more, not {tolerance}")

    if operator in ("compulsory_pair", "exclusive_pair"):
        left_has, right_has = _has_data(left, values), _has_data(right, values)
        left_value = left.evaluate(values, missing_as_zero=True) if left_has else None
        right_value = right.evaluate(values, missing_as_zero=True) if right_has else None
        passed = left_has == right_has if operator == "compulsory_pair" else not (left_has and right_has)
        return RuleOutcome(passed, left_value, right_value)

    if missing == "skip_if_any_missing":
        left_value, right_value = left.evaluate(values), right.evaluate(values)
        if left_value is None or right_value is None:
            return RuleOutcome(None, left_value, right_value)
    else:
        refs = left.refs | right.refs
        if missing == "skip_if_all_missing" and refs and all(_present(values, c) is None for c in refs):
            return RuleOutcome(None, None, None)
        left_value = left.evaluate(values, missing_as_zero=True)
        right_value = right.evaluate(values, missing_as_zero=True)
        if left_value is None or right_value is None:  # division by zero
            return RuleOutcome(None, left_value, right_value)
    return RuleOutcome(_compare(left_value, operator, right_value, tolerance), left_value, right_value)
