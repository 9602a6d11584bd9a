"""Masking of personal data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from planwatch.pii import mask_id_number, mask_phone, mask_text


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("138-0013-8000") == "138****8000"
    assert mask_phone("028-12345678") == "*******5678"
    assert mask_phone(None) is None


def test_mask_id_number() -> None:
    assert mask_id_number("51010419900307123X") == "510***********123X"


def test_mask_text() -> None:
    text = "我的电话13800138000,身份证51010419900307123X,请回电"
    masked = mask_text(text)
    assert "13800138000" not in masked
    assert "51010419900307123X" not in masked
    assert "138****8000" in masked


@given(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.text(alphabet="的是在了人有我他这个们中来上", max_size=20),
)
def test_no_full_phone_survives_masking(phone: str, words: str) -> None:
    assert phone not in mask_text(words + phone + words)
    assert mask_phone(phone) != phone
