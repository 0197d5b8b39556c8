"""The disclosure scanner finds private numbers however they are written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiator.engine.disclosure import find_disclosures, number_tokens

PRIVATE = {"reservation_price": 95_000, "budget_cap": 120_000}


def revealed(text: str, private=PRIVATE, **kwargs) -> list[tuple[str, str]]:
    return [(f.key, f.token) for f in find_disclosures([("rationale", text)], private, **kwargs)]


@pytest.mark.parametrize(
    "written",
    [
        "95000",
        "95,000",
        "95 000",
        "95\u202f000",
        "95'000",
        "95.000",
        "$95k",
        "95K",
        "$95K",
        "95 thousand",
        "95.0 thousand",
        "95.0k",
        "0.095M",
        "0,095 mn",
        "USD 95,000.00",
        "€ 94.999",
        "EUR 95.000,00",
    ],
)
def test_reservation_price_is_found_in_any_format(written):
    text = f"We cannot go below {written}, sorry."
    [(key, token)] = revealed(text)
    assert key == "reservation_price"
    assert token in written


def test_rounding_within_tolerance_is_caught_and_beyond_is_not():
    assert revealed("about 95k", {"reservation_price": 94_750})  # 0.26 % off
    assert not revealed("about 95k", {"reservation_price": 94_000})  # 1.06 % off
    assert revealed("about 95k", {"reservation_price": 94_000}, tolerance_percent=2.0)


@pytest.mark.parametrize(
    "text",
    [
        "12 months warranty, delivery in 10 days",
        "this is round 3 of 20",
        "price 97,500 is our best offer",
        "95 days is too long",
        "ship 95kg per pallet",
        "ISO 27001 and SOC 2",
        "",
    ],
)
def test_unrelated_numbers_are_not_findings(text):
    assert revealed(text) == []


def test_public_numbers_are_not_findings():
    assert revealed("we offer 95,000", public_numbers=[95_000]) == []
    assert revealed("we offer 95k", public_numbers=[95_400]) == [("reservation_price", "95k")]


def test_text_private_values_are_found_case_insensitively():
    found = find_disclosures(
        [("assumptions[0]", "Our supplier is ACME Corp")], {"supplier": "acme corp"}
    )
    assert [(f.field, f.key) for f in found] == [("assumptions[0]", "supplier")]


def test_tokens_carry_every_reading():
    (token,) = [t for t in number_tokens("EUR 95.000") if t.text == "95.000"]
    assert 95.0 in token.readings and 95_000.0 in token.readings


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


@st.composite
def formatted(draw):
    value = draw(st.integers(min_value=1_000, max_value=50_000_000))
    scale, suffix = draw(
        st.sampled_from(
            [
                (1, ""),
                (1e3, "k"),
                (1e3, "K"),
                (1e3, " thousand"),
                (1e6, "M"),
                (1e6, " mn"),
                (1e6, " million"),
            ]
        )
    )
    scaled = value / scale
    # At least three significant digits: the rounding error stays below 0.5 %.
    integer_digits = len(str(int(scaled))) if scaled >= 1 else 0
    decimals = max(0, 3 - integer_digits) + draw(st.integers(min_value=0, max_value=2))
    if scaled < 1:
        decimals = max(decimals, len(str(int(1 / scaled))) + 2)
    text = f"{scaled:.{decimals}f}"
    whole, _, frac = text.partition(".")
    thousands, decimal_mark = draw(
        st.sampled_from(
            [("", "."), (",", "."), (".", ","), (" ", ","), ("\u00a0", "."), ("'", ".")]
        )
    )
    body = _group(whole, thousands) if thousands else whole
    if frac:
        body += decimal_mark + frac
    prefix = draw(st.sampled_from(["", "$", "€ ", "USD ", "EUR", "£"]))
    trailer = draw(st.sampled_from(["", " USD", " EUR", ".", ","]))
    filler = draw(st.sampled_from(["", "in 12 months ", "round 3: ", "for 40 units "]))
    return value, f"{filler}our limit is {prefix}{body}{suffix}{trailer} this year"


@given(formatted())
@settings(max_examples=300, deadline=None)
def test_any_formatting_of_the_private_value_is_caught(case):
    value, text = case
    found = find_disclosures([("rationale", text)], {"reservation_price": value})
    assert [f.key for f in found] == ["reservation_price"], text
