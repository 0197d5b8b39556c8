"""A policy owner creates and edits every kind of policy through its fields (issue
pickers, labelled numbers, option tick boxes), never typing JSON; the JSON view
round-trips; bad input shows field errors and saves nothing; the CEL rule panel
tests a rule on sample terms."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from negotiator.models import Policy, PolicyVersion
from negotiator.services.roles import roles_ensure
from tests.formdata import form_data

pytestmark = pytest.mark.django_db

ADD = "/admin/negotiator/policy/add/"

# kind -> (playbook, the fields a person fills, the parameters saved,
#          one edit of a field, the parameters after the edit)
KINDS = {
    "cap": (
        "procurement",
        {"p_cap_issue": "price", "p_cap_max": "110000"},
        {"issue": "price", "max": 110000},
        {"p_cap_max": "105000.5"},
        {"issue": "price", "max": 105000.5},
    ),
    "floor": (
        "procurement",
        {"p_floor_issue": "price", "p_floor_min": "85000"},
        {"issue": "price", "min": 85000},
        {"p_floor_min": "86000"},
        {"issue": "price", "min": 86000},
    ),
    "range": (
        "procurement",
        {"p_range_issue": "delivery_days", "p_range_min": "5", "p_range_max": "30"},
        {"issue": "delivery_days", "min": 5, "max": 30},
        {"p_range_max": "35"},
        {"issue": "delivery_days", "min": 5, "max": 35},
    ),
    "allowed_values": (
        "saas",
        {"p_allowed_values_issue": "sla_tier", "p_allowed_values_values": ["gold", "platinum"]},
        {"issue": "sla_tier", "values": ["gold", "platinum"]},
        {"p_allowed_values_values": ["silver", "gold", "platinum"]},
        {"issue": "sla_tier", "values": ["silver", "gold", "platinum"]},
    ),
    "min_margin": (
        "procurement",
        {
            "p_min_margin_issue": "price",
            "p_min_margin_cost_key": "unit_cost",
            "p_min_margin_min_percent": "12.5",
        },
        {"issue": "price", "cost_key": "unit_cost", "min_percent": 12.5},
        {"p_min_margin_min_percent": "15"},
        {"issue": "price", "cost_key": "unit_cost", "min_percent": 15},
    ),
    "sla": (
        "procurement",
        {"p_sla_issue": "delivery_days", "p_sla_max": "30"},
        {"issue": "delivery_days", "max": 30},
        {"p_sla_min": "2"},
        {"issue": "delivery_days", "max": 30, "min": 2},
    ),
    "required_fixed_term": (
        "procurement",
        {"p_required_fixed_term_term": "governing_law"},
        {"term": "governing_law"},
        {"p_required_fixed_term_value": "Laws of England and Wales"},
        {"term": "governing_law", "value": "Laws of England and Wales"},
    ),
    "disclosure": (
        "procurement",
        {"p_disclosure_keys": ["budget_cap", "reservation_price"]},
        {"keys": ["budget_cap", "reservation_price"]},
        {"p_disclosure_tolerance_percent": "2", "p_disclosure_include_numeric_terms": "on"},
        {
            "keys": ["budget_cap", "reservation_price"],
            "tolerance_percent": 2,
            "include_numeric_terms": True,
        },
    ),
    "approval_threshold": (
        "procurement",
        {"p_approval_threshold_measure": "value", "p_approval_threshold_above": "100000"},
        {"measure": "value", "above": 100000},
        {"p_approval_threshold_above": "120000"},
        {"measure": "value", "above": 120000},
    ),
    "expression": (
        "procurement",
        {"p_expression_expression": "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0"},
        {"expression": "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0"},
        {"p_expression_message": "Slow delivery needs a long warranty"},
        {
            "expression": "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0",
            "message": "Slow delivery needs a long warranty",
        },
    ),
}


@pytest.fixture
def owner(client, django_user_model, procurement, saas):
    roles_ensure()
    user = django_user_model.objects.create_user("olivia", password="pw-long-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Policy owners"))
    client.force_login(user)
    return client


def _post(client, url: str, playbook, **fields):
    data = form_data(client.get(url).content.decode(), "policy_form")
    assert "parameters" in data  # the JSON view is on the page, but nobody types in it
    data.pop("parameters")
    data.update({"playbook": str(playbook.pk), "scope": "playbook", "editor": "form"})
    data.update(fields)
    return client.post(url, data)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_created_and_edited_through_its_fields(owner, procurement, saas, kind):
    book, filled, saved, edit, edited = KINDS[kind]
    playbook = {"procurement": procurement, "saas": saas}[book]
    name = f"Form-made {kind}"
    response = _post(owner, ADD, playbook, name=name, kind=kind, category="financial", **filled)
    assert response.status_code == 302, _errors(response)
    policy = Policy.objects.get(name=name)
    assert policy.parameters == saved
    assert policy.current_version.note == "Created"

    # The change page shows the saved parameters in the kind's fields; edit one.
    url = f"/admin/negotiator/policy/{policy.pk}/change/"
    page = form_data(owner.get(url).content.decode(), "policy_form")
    for field, value in filled.items():
        assert page[field] == value, field
    page.pop("parameters")
    page.update(edit)
    page["change_note"] = f"Tighter {kind}"
    response = owner.post(url, page)
    assert response.status_code == 302, _errors(response)
    policy.refresh_from_db()
    assert policy.parameters == edited
    assert policy.current_version.number == 2
    assert policy.current_version.note == f"Tighter {kind}"

    # The JSON view holds the same parameters: saving it unchanged changes nothing.
    page = form_data(owner.get(url).content.decode(), "policy_form")
    page.update({"editor": "json", "change_note": "Saved from the JSON view"})
    response = owner.post(url, page)
    assert response.status_code == 302, _errors(response)
    policy.refresh_from_db()
    assert policy.parameters == edited
    assert policy.versions.count() == 2


def _errors(response) -> str:
    html = response.content.decode()
    at = html.find("errorlist")
    return html[at - 300 : at + 600] if at >= 0 else html[:1500]


@pytest.mark.parametrize(
    ("kind", "fields", "field", "expected"),
    [
        ("cap", {"p_cap_issue": "price"}, "p_cap_max", "Required for cap"),
        (
            "range",
            {"p_range_issue": "price", "p_range_min": "100", "p_range_max": "50"},
            "p_range_min",
            "greater than",
        ),
        ("floor", {"p_floor_issue": "price", "p_floor_min": "lots"}, "p_floor_min", "number"),
        (
            "expression",
            {"p_expression_expression": "terms.prise > 1.0"},
            "p_expression_expression",
            "prise",
        ),
        ("cap", {"p_cap_issue": "colour", "p_cap_max": "1"}, "p_cap_issue", "colour"),
    ],
)
def test_bad_field_input_shows_field_errors_and_saves_nothing(
    owner, procurement, kind, fields, field, expected
):
    response = _post(owner, ADD, procurement, name="Bad", kind=kind, category="financial", **fields)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert expected in " ".join(errors[field]), errors
    assert not Policy.objects.filter(name="Bad").exists()
    assert not PolicyVersion.objects.filter(name="Bad").exists()


def test_an_edit_needs_a_change_note(owner, procurement):
    policy = Policy.objects.get(playbook=procurement, name="Price floor")
    url = f"/admin/negotiator/policy/{policy.pk}/change/"
    page = form_data(owner.get(url).content.decode(), "policy_form")
    page["p_floor_min"] = "1"
    page["change_note"] = ""
    response = owner.post(url, page)
    assert response.status_code == 200
    assert "change_note" in response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.parameters["min"] != 1


def test_pickers_offer_the_playbooks_issues_with_units_and_labels(owner, procurement):
    policy = Policy.objects.get(playbook=procurement, name="Price floor")
    html = owner.get(f"/admin/negotiator/policy/{policy.pk}/change/").content.decode()
    form = owner.get(f"/admin/negotiator/policy/{policy.pk}/change/").context["adminform"].form
    choices = dict(form.fields["p_cap_issue"].choices)
    assert set(choices) == {"", "price", "delivery_days", "warranty_months"}
    assert "USD" in choices["price"] or "80" in choices["price"]
    assert "sla_tier" not in choices  # only this playbook's issues
    assert dict(form.fields["p_required_fixed_term_term"].choices).keys() >= {"governing_law"}
    assert "unit_cost" in dict(form.fields["p_disclosure_keys"].choices)
    assert "Test this rule" in html


def test_the_rule_panel_tests_a_rule_on_sample_terms(owner, procurement):
    url = "/admin/negotiator/policy/test-rule/"
    base = {"playbook": str(procurement.pk), "sample_price": "90000"}
    base |= {"sample_delivery_days": "25", "sample_warranty_months": "6"}
    rule = "terms.delivery_days <= 20.0 || terms.warranty_months >= 12.0"
    failing = owner.post(url, base | {"p_expression_expression": rule}, HTTP_HX_REQUEST="true")
    assert failing.status_code == 200
    assert "fails" in failing.content.decode()
    passing = owner.post(
        url,
        base | {"p_expression_expression": rule, "sample_delivery_days": "10"},
        HTTP_HX_REQUEST="true",
    )
    assert "passes" in passing.content.decode()
    broken = owner.post(url, base | {"p_expression_expression": "terms.prise > 1.0"})
    assert "errorlist" in broken.content.decode() and "prise" in broken.content.decode()
    assert owner.get(url).status_code == 405
