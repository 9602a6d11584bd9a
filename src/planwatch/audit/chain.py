"""Hash chains: each row's hash covers the previous hash and the row's canonical content, so a
changed, inserted or removed row breaks every hash after it.

Appends serialise on the chain's head row (``audit_chain_heads``), which each append updates in the
same transaction: PostgreSQL takes a row lock, SQLite its write lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from planwatch.models import AuditChainHead

GENESIS = "0" * 64


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
"""One encoder for every call (``json.dumps`` with options builds a new one each time)."""


def canonical(content: dict[str, Any]) -> str:
    """Stable JSON: sorted keys, no whitespace, non-ASCII kept, control characters escaped."""
    return _ENCODER.encode(content)


def _scalar(value: Any) -> str:
    """``value`` as ``canonical`` writes it inside an object (``str`` → JSON string, ``float`` →
    its repr, ``bool``, ``int``, ``None``); other types go through the encoder itself."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)  # what the encoder uses with ensure_ascii=False
    if kind is float:
        text = float.__repr__(value)
        return text if text[-1] not in "nf" else _ENCODER.encode(value)  # nan, inf: JSON's NaN, Infinity
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


def canonical_rows(keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """``canonical(dict(zip(keys, row)))`` of many rows with the same keys, without the dicts: one
    template for the sorted keys, each value encoded on its own (the same text, several times
    faster for large batches)."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    template = "{" + ",".join(encode_basestring(keys[i]).replace("%", "%%") + ":%s" for i in order) + "}"
    for row in rows:
        yield template % tuple([_scalar(row[i]) for i in order])


def link(prev_hash: str, content: dict[str, Any]) -> str:
    return link_text(prev_hash, canonical(content))


def link_text(prev_hash: str, text: str) -> str:
    """The hash of a row whose canonical content is ``text``."""
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def lock(session: Session, chain: str) -> None:
    """Take the chain's lock now (a no-op write of its head row), before reading what the coming
    appends depend on; held until the transaction ends."""
    session.execute(
        update(AuditChainHead).where(AuditChainHead.chain == chain).values(count=AuditChainHead.count)
    )


def advance(session: Session, chain: str, content: dict[str, Any]) -> tuple[str, str]:
    """Take the chain's lock, read its head, move it; return (prev_hash, hash).

    The first statement writes the head row, which serialises concurrent appends on both
    databases (SQLite's write lock, PostgreSQL's row lock) *before* the head is read, so two
    writers can never append after the same row.
    """
    return advance_many(session, chain, [content])[0]


def advance_many(
    session: Session, chain: str, contents: Sequence[dict[str, Any] | str]
) -> list[tuple[str, str]]:
    """Append many rows at once: one lock, one head read and one head write for the batch.
    Each row is given by its content, or by its canonical text when the caller made it already
    (``canonical_rows``). Returns (prev_hash, hash) per row, in order."""
    if not contents:
        return []
    texts = [content if isinstance(content, str) else canonical(content) for content in contents]
    bumped = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .values(count=AuditChainHead.count + len(texts))
    )
    if getattr(bumped, "rowcount", 0) == 0:
        session.execute(insert(AuditChainHead).values(chain=chain, hash=GENESIS, count=len(texts)))
    prev = session.scalar(select(AuditChainHead.hash).where(AuditChainHead.chain == chain))
    assert prev is not None  # noqa: S101 - the row was written just above
    links: list[tuple[str, str]] = []
    sha256 = hashlib.sha256
    for text in texts:
        new = sha256((prev + text).encode("utf-8")).hexdigest()  # link_text, inlined for large batches
        links.append((prev, new))
        prev = new
    session.execute(update(AuditChainHead).where(AuditChainHead.chain == chain).values(hash=prev))
    return links


def head(session: Session, chain: str) -> str:
    """The latest hash of ``chain`` (GENESIS before its first row)."""
    return session.scalar(select(AuditChainHead.hash).where(AuditChainHead.chain == chain)) or GENESIS
