"""Credentials for agents: issued once by a command (only the hash is kept),
listed and revoked in admin without the secret; seats pointed at an agent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from negotiator.models import AuditEvent, SeatAgent, SeatCredential
from negotiator.services.seats import seat_credential_verify
from tests.a2a.conftest import open_seat

pytestmark = pytest.mark.django_db


def test_the_command_prints_a_new_token_once_and_stores_its_hash(playbook):
    negotiation, seller, _ = open_seat(playbook)
    out = StringIO()
    call_command(
        "seat_credential",
        negotiation=negotiation.pk,
        party="seller",
        days=7,
        stdout=out,
        stderr=StringIO(),
    )
    token = out.getvalue().strip()
    assert token.startswith("nt_")
    credential = seat_credential_verify(secret=token, kind="token")
    assert credential.participant == seller
    assert (credential.expires_at - credential.created_at).days == 6  # 7 days less a moment
    assert token not in str(list(SeatCredential.objects.values_list()))


@pytest.mark.parametrize(
    ("party", "days", "says"),
    [
        ("buyer", 30, "played by our own strategy; it needs no credential"),
        ("nobody", 30, "has no party 'nobody'"),
        ("seller", 0, "--days must be between 1 and 366"),
    ],
)
def test_the_command_refuses_what_it_cannot_issue(playbook, party, days, says):
    negotiation, _, _ = open_seat(playbook)
    with pytest.raises(CommandError, match=says):
        call_command("seat_credential", negotiation=negotiation.pk, party=party, days=days)


def test_admin_lists_credentials_without_the_secret_and_revokes_them(playbook, admin_client):
    negotiation, _, token = open_seat(playbook)
    page = admin_client.get("/admin/negotiator/seatcredential/")
    assert page.status_code == 200
    html = page.content.decode()
    credential = SeatCredential.objects.get()
    assert credential.prefix in html
    assert token not in html and credential.secret_hash not in html
    detail = admin_client.get(f"/admin/negotiator/seatcredential/{credential.pk}/change/")
    assert credential.secret_hash not in detail.content.decode()
    response = admin_client.post(
        "/admin/negotiator/seatcredential/",
        {"action": "revoke", "_selected_action": [credential.pk]},
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    assert AuditEvent.objects.filter(
        negotiation=negotiation, kind="seat.credential_revoked"
    ).exists()


def test_a_seat_is_pointed_at_a_suppliers_agent_by_command(playbook):
    negotiation, seller, _ = open_seat(playbook)
    call_command(
        "seat_agent",
        negotiation=negotiation.pk,
        party="seller",
        url="https://agent.example.com",
        stdout=StringIO(),
    )
    assert SeatAgent.objects.get(participant=seller).url == "https://agent.example.com"
    assert AuditEvent.objects.filter(negotiation=negotiation, kind="seat.agent_connected").exists()
    with pytest.raises(CommandError, match="is not an http"):
        call_command("seat_agent", negotiation=negotiation.pk, party="seller", url="ftp://x")
    with pytest.raises(CommandError, match="'buyer' is not an outside agent seat"):
        call_command(
            "seat_agent", negotiation=negotiation.pk, party="buyer", url="https://x.example"
        )
