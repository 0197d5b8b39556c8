import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiator.engine.errors import InvalidOffer
from negotiator.engine.offers import (
    Offer,
    Performative,
    offer_from_dict,
    offer_schema,
    offer_to_dict,
    offer_to_json,
    validate_offer,
)
from negotiator.engine.outcomes import NumericIssue, fixed_terms_hash

from .helpers import deal_space

FIXED = {"governing_law": "England and Wales", "liability_cap_usd": 1_000_000}
SPACE = deal_space()
GOOD_TERMS = {"price": 60, "delivery_days": 14, "channel": "email", "support": "standard"}


def make_offer(**overrides):
    data = {
        "performative": Performative.PROPOSE,
        "sender": "buyer",
        "terms": GOOD_TERMS,
        "fixed_terms_hash": fixed_terms_hash(FIXED),
        "round": 3,
    }
    data.update(overrides)
    return Offer(**data)


def problems(offer, **kwargs):
    with pytest.raises(InvalidOffer) as exc:
        validate_offer(offer, SPACE, FIXED, **kwargs)
    return str(exc.value)


def test_offer_id_is_deterministic_and_terms_are_read_only():
    offer = make_offer()
    assert offer.id == "buyer-r3-v1"
    assert offer.terms["price"] == 60
    with pytest.raises(TypeError):
        offer.terms["price"] = 10  # type: ignore[index]
    assert hash(offer) == hash(make_offer())


def test_canonical_json_is_sorted_compact_and_round_trips():
    offer = make_offer(rationale="Prix réduit", assumptions=("volume ≥ 100",))
    text = offer_to_json(offer)
    assert text == json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert "réduit" in text
    assert offer_from_dict(json.loads(text)) == offer


def test_fixed_terms_hash_is_stable_and_order_independent():
    a = fixed_terms_hash({"a": 1, "b": "x"})
    assert a == fixed_terms_hash({"b": "x", "a": 1})
    assert len(a) == 64
    assert a != fixed_terms_hash({"a": 2, "b": "x"})


def test_valid_offer_passes():
    validate_offer(make_offer(), SPACE, FIXED, now_round=3)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({**GOOD_TERMS, "colour": "red"}, "unknown issue 'colour'"),
        ({**GOOD_TERMS, "price": 12}, "'price' = 12 out of range [20, 100]"),
        ({**GOOD_TERMS, "price": 21}, "'price' = 21 not on step 5 from 20"),
        ({k: v for k, v in GOOD_TERMS.items() if k != "support"}, "missing issue 'support'"),
        ({**GOOD_TERMS, "channel": "fax"}, "'channel' = 'fax' not one of"),
        ({**GOOD_TERMS, "price": "cheap"}, "'price' = 'cheap' is not a number"),
        ({**GOOD_TERMS, "governing_law": "Texas"}, "'governing_law' fixed term changed"),
    ],
)
def test_invalid_terms_say_exactly_what_is_wrong(terms, message):
    assert message in problems(make_offer(terms=terms))


def test_fixed_terms_missing_or_changed():
    assert "fixed terms missing" in problems(make_offer(fixed_terms_hash=""))
    other = fixed_terms_hash({**FIXED, "governing_law": "Texas"})
    assert "hash mismatch" in problems(make_offer(fixed_terms_hash=other))


def test_expiry_by_round_and_by_time():
    assert "offer expired at round 4" in problems(make_offer(expires_at_round=4), now_round=5)
    validate_offer(make_offer(expires_at_round=4), SPACE, FIXED, now_round=4)
    late = make_offer(expires_at="2026-01-01T10:00:00+00:00")
    assert "offer expired at 2026-01-01T10:00:00+00:00" in problems(
        late, now="2026-01-01T11:00:00+00:00"
    )


def test_continuous_issue_accepts_values_in_range():
    issue = NumericIssue("weight_kg", 0.5, 2.5)
    assert issue.check(1.234) is None
    assert "out of range" in issue.check(3.0)
    assert len(issue.values) == 11


def _schema_validator():
    schema = offer_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


term_values = st.one_of(
    st.integers(-1000, 1000), st.sampled_from(["email", "phone", "x"]), st.floats(-1e6, 1e6)
)
offers = st.builds(
    Offer,
    performative=st.sampled_from(list(Performative)),
    sender=st.sampled_from(["buyer", "seller", "ops"]),
    terms=st.dictionaries(st.sampled_from([*SPACE.names, "colour"]), term_values, min_size=1),
    fixed_terms_hash=st.sampled_from([fixed_terms_hash(FIXED), fixed_terms_hash({}), ""]),
    round=st.integers(0, 200),
    expires_at_round=st.none() | st.integers(0, 200),
    assumptions=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    version=st.integers(1, 5),
    rationale=st.text(max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(offers)
def test_generated_offers_match_the_schema(offer):
    validator = _schema_validator()
    validator.validate(json.loads(offer_to_json(offer)))
    assert offer_from_dict(offer_to_dict(offer)) == offer


@settings(max_examples=300, deadline=None)
@given(offers, st.integers(0, 200))
def test_invalid_offers_are_always_rejected(offer, now_round):
    """An offer that breaks any rule is rejected; one that breaks none passes."""
    carries_terms = offer.performative in (
        Performative.PROPOSE,
        Performative.COUNTER,
        Performative.ACCEPT,
    )
    broken = (
        any(name not in SPACE for name in offer.terms)
        or any(SPACE.issue(n).check(v) for n, v in offer.terms.items() if n in SPACE)
        or (carries_terms and set(SPACE.names) - set(offer.terms))
        or offer.fixed_terms_hash != fixed_terms_hash(FIXED)
        or (offer.expires_at_round is not None and now_round > offer.expires_at_round)
    )
    if broken:
        with pytest.raises(InvalidOffer):
            validate_offer(offer, SPACE, FIXED, now_round=now_round)
    else:
        validate_offer(offer, SPACE, FIXED, now_round=now_round)


def test_schema_rejects_malformed_offer_documents():
    validator = _schema_validator()
    doc = offer_to_dict(make_offer())
    for bad in (
        {**doc, "performative": "haggle"},
        {**doc, "round": -1},
        {**doc, "terms": {"price": [1, 2]}},
        {k: v for k, v in doc.items() if k != "sender"},
        {**doc, "surprise": True},
    ):
        assert list(validator.iter_errors(bad)), bad
