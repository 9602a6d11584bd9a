"""Password policy (AUTH-1) and hashing."""

from __future__ import annotations

import pytest

from planwatch.accounts.passwords import PasswordPolicy, hash_password, password_problems, verify_password

DENGBAO = PasswordPolicy(min_length=12, dengbao=True)
ASVS = PasswordPolicy(min_length=12, dengbao=False)


@pytest.mark.parametrize(
    ("password", "accepted_dengbao", "accepted_asvs"),
    [
        ("Qz7!kettle-harbour", True, True),
        ("kettleharbourmoss", False, True),  # one class only: fine by ASVS, not by 等保
        ("Short7!a", False, False),  # too short
        ("Admin!Kettle99", False, False),  # contains 'admin'
        ("Chengdu!Kettle9", False, False),  # contains the city
        ("Kettle!12345abc", False, False),  # a trivial sequence
        ("li.wei!Kettle99", False, False),  # contains the user name
        ("成都市规划处Kettle9!", False, False),  # 成都 in Chinese too
        ("规划处的长密码很安全Ab!", True, True),  # Chinese characters are fine
    ],
)
def test_policy_table(password: str, accepted_dengbao: bool, accepted_asvs: bool) -> None:
    assert (not password_problems(password, username="li.wei", policy=DENGBAO)) is accepted_dengbao
    assert (not password_problems(password, username="li.wei", policy=ASVS)) is accepted_asvs


def test_long_passwords_are_accepted_and_not_truncated() -> None:
    long_password = "Qz7!" + "kettle-harbour-" * 8  # 124 characters
    assert not password_problems(long_password, username="x", policy=DENGBAO)
    hashed = hash_password(long_password)
    assert hashed.startswith("$argon2id$")
    assert verify_password(long_password, hashed)
    assert not verify_password(long_password[:-1], hashed)
    assert not verify_password(long_password[:72], hashed)


def test_absurdly_long_passwords_are_refused() -> None:
    assert password_problems("Qz7!" + "a" * 300, username="x", policy=DENGBAO)
