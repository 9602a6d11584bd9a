"""Masking of personal data."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from planwatch.pii import mask_id_number, mask_phone, mask_text, mask_value


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


def test_mask_text_catches_numbers_written_with_spaces_and_hyphens() -> None:
    cases = {
        "电话138 1234 8000": "电话138****8000",
        "电话138-1234-8000": "电话138****8000",
        "电话+86 13812348000": "电话138****8000",
        "电话8613812348000": "电话138****8000",
        "座机028-85551234": "座机028-****1234",
        "座机(028)85551234": "座机(028)****1234",
        "座机（028）8555123": "座机（028）***5123",
        "座机02885551234": "座机028****1234",
        "身份证510104 19900307 123X": "身份证510***********123X",
        "身份证510104-19900307-1234": "身份证510***********1234",
    }
    for text, masked in cases.items():
        assert mask_text(text) == masked, text


def test_mask_text_leaves_ordinary_numbers() -> None:
    text = "2025年3月12日下午3点,12345热线,3栋2单元1楼,约200米"
    assert mask_text(text) == text


def test_mask_value_masks_every_string() -> None:
    value = {"contact": "13812348000", "floors": 3, "many": ["028-85551234", None]}
    assert mask_value(value) == {"contact": "138****8000", "floors": 3, "many": ["028-****1234", None]}


SEPARATOR = st.sampled_from(["", " ", "-"])


@given(
    st.from_regex(r"1[3-9][0-9]", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
    SEPARATOR,
    SEPARATOR,
    st.text(alphabet="的是在了人有我他这个们中来上", max_size=20),
)
def test_no_mobile_survives_masking_whatever_the_separators(
    head: str, middle: str, tail: str, sep1: str, sep2: str, words: str
) -> None:
    masked = mask_text(f"{words}{head}{sep1}{middle}{sep2}{tail}{words}")
    assert f"{head}****{tail}" in masked
    assert middle not in masked.replace(tail, "")


@given(
    st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
    st.from_regex(r"(19|20)[0-9]{6}", fullmatch=True),
    st.from_regex(r"[0-9]{3}[0-9X]", fullmatch=True),
    SEPARATOR,
    st.text(alphabet="的是在了人有我他这个们中来上", max_size=20),
)
def test_no_id_number_survives_masking(region: str, birth: str, tail: str, sep: str, words: str) -> None:
    masked = mask_text(f"{words}{region}{sep}{birth}{sep}{tail}{words}")
    assert birth not in masked
    assert region[:3] + "*" * 11 + tail in masked
