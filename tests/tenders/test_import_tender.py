"""manage.py import_tender and the tender playbook's admin form: a tender file comes
in whole or not at all, and the settings edited in admin meet the same checks."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from negotiator.models import Playbook
from negotiator.services.roles import roles_ensure
from tenders.models import Supplier, TenderPlaybook
from tests.formdata import form_data
from tests.tenders.conftest import tender_document

pytestmark = pytest.mark.django_db


def _import(tmp_path, document) -> str:
    path = tmp_path / "tender.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    from io import StringIO

    out = StringIO()
    call_command("import_tender", str(path), stdout=out)
    return out.getvalue()


def test_a_tender_file_is_imported_and_again_updates_in_place(tmp_path):
    roles_ensure()
    out = _import(tmp_path, tender_document())
    assert "Imported tender playbook" in out and "bidders" in out
    template = TenderPlaybook.objects.get()
    assert Supplier.objects.filter(name=template.bidders[0]["supplier"]).exists()
    _import(tmp_path, tender_document())
    assert TenderPlaybook.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d | {"format": "x"}, "a tender file has format"),
        (lambda d: d | {"tender": {**d["tender"], "format": "dutch"}}, "tender.format"),
        (lambda d: d | {"bidders": []}, "a tender needs a list of bidders"),
        (lambda d: d | {"bidders": [{**d["bidders"][0], "cost": -5}]}, "cost must be"),
        (lambda d: d | {"playbook": {**d["playbook"], "issues": "none"}}, "issues"),
    ],
    ids=["format", "setting", "no-bidders", "cost", "playbook"],
)
def test_a_bad_tender_file_changes_nothing_and_says_why(tmp_path, change, message):
    roles_ensure()
    with pytest.raises(CommandError, match=message) as caught:
        _import(tmp_path, change(tender_document()))
    assert caught.value.returncode == 2
    assert not Playbook.objects.exists() and not TenderPlaybook.objects.exists()
    assert not Supplier.objects.exists()


def test_not_json_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Nothing was imported"):
        _import(tmp_path, "{not json")


def test_admin_checks_the_settings_and_bidders_like_the_import(admin_client, template):
    url = f"/admin/tenders/tenderplaybook/{template.pk}/change/"
    data = form_data(admin_client.get(url).content.decode(), "tenderplaybook_form")
    before = (dict(template.config), list(template.bidders))
    for field, value, message in [
        ("config", {**template.config, "format": "dutch"}, "tender.format"),
        ("config", {**template.config, "price_issue": "colour"}, "no issue"),
        ("bidders", [{**template.bidders[0], "strategy": "bribe"}], "unknown strategy"),
        ("bidders", [{**template.bidders[0], "supplier": "Nobody Ltd"}], "no supplier named"),
    ]:
        response = admin_client.post(url, data | {field: json.dumps(value)})
        assert response.status_code == 200, field
        assert message in response.content.decode(), message
        template.refresh_from_db()
        assert (template.config, template.bidders) == before
    bidders = [{**template.bidders[0], "cost": 91_000}, *template.bidders[1:]]
    response = admin_client.post(url, data | {"bidders": json.dumps(bidders)})
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.bidders[0]["cost"] == 91_000.0
    assert admin_client.get("/admin/tenders/tenderplaybook/add/").status_code == 403
