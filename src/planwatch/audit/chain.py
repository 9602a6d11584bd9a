"""Hash chains: each row's hash covers the previous hash and the row's canonical content, so a
changed, inserted or removed row breaks every hash after it.

Appends serialise on the chain's head row (``audit_chain_heads``), which each append updates in the
same transaction: PostgreSQL takes a row lock, SQLite its write lock.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from planwatch.models import AuditChainHead

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> str:
    """Stable JSON: sorted keys, no whitespace, non-ASCII kept, control characters escaped."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(content)).encode("utf-8")).hexdigest()


def advance(session: Session, chain: str, content: dict[str, Any]) -> tuple[str, str]:
    """Lock the chain head, compute this row's hash, move the head; return (prev_hash, hash)."""
    head = session.scalar(select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update())
    if head is None:
        head = AuditChainHead(chain=chain, hash=GENESIS, count=0)
        session.add(head)
    prev = head.hash
    new = link(prev, content)
    head.hash = new
    head.count += 1
    return prev, new
