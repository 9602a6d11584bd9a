"""Password policy and hashing (argon2id via pwdlib).

The policy follows OWASP ASVS (length, no truncation, no context words) in every mode; "等保 mode"
(on by default) adds GB/T 22239-2019's complexity (three of four character classes) and rotation for
administrator accounts. See ../shared/reference/reliability-security-requirements.md AUTH-1.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MAX_LENGTH = 256
COMMON = frozenset(
    {
        "password", "passw0rd", "12345678", "123456789", "1234567890", "qwertyuiop", "11111111",
        "admin123", "administrator", "iloveyou", "abc12345", "qwerty123", "planwatch", "chengdu",
        "welcome1", "changeme", "letmein1",
    }
)  # fmt: skip
CONTEXT_WORDS = ("admin", "planwatch", "chengdu", "成都", "12345", "password")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    dengbao: bool = True
    """等保 mode: at least three of lower case, upper case, digits and symbols."""


def password_problems(password: str, *, username: str, policy: PasswordPolicy) -> list[str]:
    """Everything wrong with ``password`` (empty when it is acceptable)."""
    problems = []
    length = len(password)
    if length < policy.min_length:
        problems.append(f"at least {policy.min_length} characters are needed (got {length})")
    if length > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters are allowed")
    lowered = unicodedata.normalize("NFKC", password).casefold()
    if lowered in COMMON:
        problems.append("this password is on the list of common passwords")
    candidates = (*CONTEXT_WORDS, unicodedata.normalize("NFKC", username).casefold())
    words = [w for w in candidates if len(w) >= 3 or (len(w) >= 2 and not w.isascii())]
    found = next((w for w in words if w in lowered), None)
    if found:
        problems.append(f"it must not contain '{found}' (user name, product, city or a trivial sequence)")
    if policy.dengbao:
        classes = sum(
            [
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            ]
        )
        if classes < 3:
            problems.append("等保 mode: use at least three of lower case, upper case, digits and symbols")
    return problems


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return bool(_hasher().verify(password, password_hash))


DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$1o+3Dd0OVVgYxhpX7nOkIRyG1yBt0FLjCg3Y2uVDYCo"
"""Verified against for unknown users, so their answer takes as long as a wrong password's."""
