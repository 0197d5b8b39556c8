import re

import pytest

from negotiator.engine.errors import ScenarioError
from negotiator.engine.genius import is_genius_domain, parse_genius_domain, parse_genius_profile
from negotiator.engine.outcomes import NumericIssue
from negotiator.engine.scenario import genius_scenario

from .helpers import GENIUS_DIR


def read(folder: str, name: str) -> str:
    return (GENIUS_DIR / folder / name).read_text(encoding="utf-8")


def load(folder: str):
    files = {p.name: p.read_text(encoding="utf-8") for p in (GENIUS_DIR / folder).iterdir()}
    return genius_scenario(files, name=folder)


@pytest.mark.parametrize(
    ("folder", "issues", "cardinality", "parties"),
    [
        ("Laptop", 3, 27, ("laptop_buyer_utility", "laptop_seller_utility")),
        ("Travel", 7, 188160, ("travel_chox", "travel_fanny")),
        ("CarA", 6, 15625, ("Car-A-prof1", "Car-A-prof2")),
    ],
)
def test_imports_every_sample(folder, issues, cardinality, parties):
    scenario = load(folder)
    assert len(scenario.space.issues) == issues
    assert scenario.space.cardinality == cardinality
    assert scenario.party_names == parties
    for party in scenario.parties:
        assert sum(party.profile.weights.values()) == pytest.approx(1.0)


def test_laptop_utilities_match_hand_computation():
    domain = parse_genius_domain(read("Laptop", "laptop_domain.xml"), source="laptop_domain.xml")
    buyer = parse_genius_profile(read("Laptop", "laptop_buyer_utility.xml"), domain, source="buyer")
    raw = (0.4452125771655631, 0.37808251708013424, 0.1767567099260568)
    w = tuple(x / sum(raw) for x in raw)  # the file's weights sum to 1.00005; we normalise
    # Dell 12/30, 60 Gb 30/30, 19'' 30/30
    terms = {"Laptop": "Dell", "Harddisk": "60 Gb", "External Monitor": "19'' LCD"}
    assert buyer.utility(terms, domain.space) == pytest.approx(w[0] * 0.4 + w[1] * 1 + w[2] * 1)
    # HP 30/30, 120 Gb 9/30, 20'' 10/30
    terms = {"Laptop": "HP", "Harddisk": "120 Gb", "External Monitor": "20'' LCD"}
    assert buyer.utility(terms, domain.space) == pytest.approx(w[0] * 1 + w[1] * 0.3 + w[2] / 3)
    assert buyer.reservation == 0.0
    assert buyer.discount == pytest.approx(0.42441038)


def test_car_profile_ignores_similarity_items_and_reads_reservation():
    domain = parse_genius_domain(read("CarA", "Car-A-domain.xml"), source="Car-A-domain.xml")
    prof = parse_genius_profile(read("CarA", "Car-A-prof1.xml"), domain, source="Car-A-prof1.xml")
    names = domain.space.names
    assert prof.utility(dict.fromkeys(names, "good"), domain.space) == pytest.approx(1.0)
    standard = 0.16 * 0.92 + 0.16 * 0.93 + 0.17 * (0.96 + 0.93 + 0.95 + 0.95)
    assert prof.utility(dict.fromkeys(names, "standard"), domain.space) == pytest.approx(standard)
    assert prof.reservation == pytest.approx(0.5)
    assert prof.discount == pytest.approx(0.75)


def test_travel_utility_of_favourite_options():
    domain = parse_genius_domain(read("Travel", "travel_domain.xml"), source="travel_domain.xml")
    chox = parse_genius_profile(read("Travel", "travel_chox.xml"), domain, source="travel_chox.xml")
    best = {
        "Atmosphere": "Hospitality",
        "Amusement": "Nightlife and entertainment",
        "Culinary": "Local cuisine",
        "Shopping": "Small boutiques",
        "Culture": "Theater",
        "Sport": "Bike tours",
        "Environment": "Monuments",
    }
    assert chox.utility(best, domain.space) == pytest.approx(1.0)
    # Palace scores 224/316 on Environment (weight 0.25501038112441554)
    worse = {**best, "Environment": "Palace"}
    weight = 0.25501038112441554 / sum(chox.weights.values())
    expected = 1.0 - weight * (1 - 224 / 316)
    assert chox.utility(worse, domain.space) == pytest.approx(expected, rel=1e-6)


def test_domain_detection():
    assert is_genius_domain(read("Laptop", "laptop_domain.xml"))
    assert not is_genius_domain(read("Laptop", "laptop_buyer_utility.xml"))


INTEGER_DOMAIN = """<negotiation_template><utility_space><objective index="0" name="deal">
<issue index="1" name="price" type="integer" lowerbound="10" upperbound="20"/>
<issue index="2" name="rate" vtype="real" lowerbound="0" upperbound="1"/>
</objective></utility_space></negotiation_template>"""

INTEGER_PROFILE = """<utility_space><objective index="0" name="deal">
<weight index="1" value="0.6"/><weight index="2" value="0.4"/>
<issue index="1" name="price" type="integer"><evaluator ftype="linear" utilitylowerbound="1" utilityupperbound="0"/></issue>
<issue index="2" name="rate" vtype="real"><evaluator ftype="linear" slope="1" offset="0"/></issue>
</objective><reservation value="0.2"/></utility_space>"""


def test_integer_and_real_issues_with_linear_evaluators():
    domain = parse_genius_domain(INTEGER_DOMAIN, source="d.xml")
    price = domain.space.issue("price")
    assert isinstance(price, NumericIssue) and price.integer and price.values[0] == 10
    profile = parse_genius_profile(INTEGER_PROFILE, domain, source="p.xml")
    assert profile.utility({"price": 15, "rate": 0.5}, domain.space) == pytest.approx(
        0.6 * 0.5 + 0.4 * 0.5
    )
    assert profile.reservation == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<utility_space><objective>", "broken.xml: XML: malformed XML"),
        ("<utility_space/>", "broken.xml: <utility_space>: no <objective>"),
        (
            '<utility_space><objective><issue index="1" type="integer" name="n"/></objective></utility_space>',
            'broken.xml: <issue index="1" name="n">: missing attribute \'lowerbound\'',
        ),
        (
            '<utility_space><objective><issue index="1"/></objective></utility_space>',
            "issue without a 'name'",
        ),
    ],
)
def test_malformed_domain_names_file_and_element(text, fragment):
    with pytest.raises(ScenarioError) as exc:
        parse_genius_domain(text, source="broken.xml")
    assert fragment in str(exc.value)


def test_malformed_profile_names_file_and_element():
    domain = parse_genius_domain(read("Laptop", "laptop_domain.xml"), source="laptop_domain.xml")
    bad = read("Laptop", "laptop_buyer_utility.xml").replace('evaluation="12"', 'evaluation="lots"')
    with pytest.raises(ScenarioError) as exc:
        parse_genius_profile(bad, domain, source="buyer.xml")
    assert str(exc.value).startswith('buyer.xml: <item index="1" value="Dell">')
    assert "'evaluation'='lots' is not a number" in str(exc.value)
    no_weight = re.sub(
        r'<weight index="3"[^>]*>\s*</weight>', "", read("Laptop", "laptop_buyer_utility.xml")
    )
    with pytest.raises(
        ScenarioError,
        match=r"buyer\.xml: <issue index=\"3\" name=\"External Monitor\">: no <weight",
    ):
        parse_genius_profile(no_weight, domain, source="buyer.xml")


def test_profile_can_be_parsed_against_a_bare_outcome_space():
    domain = parse_genius_domain(read("Laptop", "laptop_domain.xml"), source="laptop_domain.xml")
    a = parse_genius_profile(read("Laptop", "laptop_seller_utility.xml"), domain, source="s")
    b = parse_genius_profile(read("Laptop", "laptop_seller_utility.xml"), domain.space, source="s")
    assert (a.utility_array(domain.space) == b.utility_array(domain.space)).all()
