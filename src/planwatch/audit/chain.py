"""Hash chains: each row's hash covers the previous hash and the row's canonical content, so a
changed, inserted or removed row breaks every hash after it.

Appends serialise on the chain's head row (``audit_chain_heads``), which each append updates in the
same transaction: PostgreSQL takes a row lock, SQLite its write lock.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from planwatch.models import AuditChainHead

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> str:
    """Stable JSON: sorted keys, no whitespace, non-ASCII kept, control characters escaped."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(content)).encode("utf-8")).hexdigest()


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


def advance_many(session: Session, chain: str, contents: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Append many rows at once: one lock, one head read and one head write for the batch.
    Returns (prev_hash, hash) per row, in order."""
    if not contents:
        return []
    bumped = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .values(count=AuditChainHead.count + len(contents))
    )
    if getattr(bumped, "rowcount", 0) == 0:
        session.execute(insert(AuditChainHead).values(chain=chain, hash=GENESIS, count=len(contents)))
    prev = session.scalar(select(AuditChainHead.hash).where(AuditChainHead.chain == chain))
    assert prev is not None  # noqa: S101 - the row was written just above
    links: list[tuple[str, str]] = []
    for content in contents:
        new = link(prev, content)
        links.append((prev, new))
        prev = new
    session.execute(update(AuditChainHead).where(AuditChainHead.chain == chain).values(hash=prev))
    return links


def head(session: Session, chain: str) -> str:
    """The latest hash of ``chain`` (GENESIS before its first row)."""
    return session.scalar(select(AuditChainHead.hash).where(AuditChainHead.chain == chain)) or GENESIS
