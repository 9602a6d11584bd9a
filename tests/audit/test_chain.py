"""Canonical JSON of hash-chained rows: the batch encoder writes exactly what ``canonical`` writes."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from planwatch.audit.chain import GENESIS, canonical, canonical_rows, link, link_text

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
KEYS = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8, unique=True)


@given(keys=KEYS, data=st.data())
def test_canonical_rows_write_what_canonical_writes(keys: list[str], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.tuples(*(SCALARS for _ in keys)), max_size=5))
    assert list(canonical_rows(keys, rows)) == [canonical(dict(zip(keys, row, strict=True))) for row in rows]


def test_an_audit_row_with_every_kind_of_value() -> None:
    keys = ("new_value", "at", "forced", "import_id", "comment", "old_value", "period", "ratio", "when")
    row: tuple[Any, ...] = (
        0.1 + 0.2,
        "2026-12-01T01:00:00+00:00",
        False,
        None,
        '引号 " 反斜杠 \\ 换行\n\x00\u2028 %s %(x)s',
        -0.0,
        "2026-05",
        math.nan,
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # not a JSON type: the encoder's default (str)
    )
    (text,) = canonical_rows(keys, [row])
    assert text == canonical(dict(zip(keys, row, strict=True)))
    assert link_text(GENESIS, text) == link(GENESIS, dict(zip(keys, row, strict=True)))


def test_keys_with_percent_signs_are_not_format_fields() -> None:
    keys = ("%s", "a%%b", "%(x)s")
    assert list(canonical_rows(keys, [(1, 2, 3)])) == [canonical({"%s": 1, "a%%b": 2, "%(x)s": 3})]
