"""Tampering by someone with full database access (a superuser who switches the
triggers off), each case caught by `verify_audit`, the audit page and the
offline verifier, as long as the checkpoint key was not stolen."""

from __future__ import annotations

import html
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from negotiator.audit import chain_of, stamp
from negotiator.audit_key import checkpoint_key
from negotiator.audit_offline import canonical_json, event_digest
from negotiator.models import AuditEvent, Offer
from negotiator.services.checkpoints import checkpoint_write
from negotiator.services.lifecycle import negotiation_create
from tests.negotiator.audit_fixtures import approved, as_superuser, run_offline, signing  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    return client


@pytest.fixture
def sealed(signing, procurement):  # noqa: F811
    """An approved negotiation, verified clean, then covered by checkpoint #1."""
    negotiation = approved(procurement)
    assert checkpoint_write().number == 1
    call_command("verify_audit", stdout=io.StringIO())
    return negotiation


def _events(negotiation) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("seq"))


def _forge_append(negotiation, *, mac: str) -> str:
    """An `agreed` event with a correct hash, appended behind the application."""
    last = _events(negotiation)[-1]
    fields = {
        "chain": last.chain,
        "seq": last.seq + 1,
        "negotiation_id": negotiation.pk,
        "user_id": None,
        "kind": "negotiation.agreed",
        "actor": "system",
        "created_at": stamp(timezone.now()),
        "payload_json": canonical_json({"terms": {"price": 1.0}}),
    }
    digest = event_digest(version=2, prev_hash=last.hash, **fields)
    as_superuser(
        "INSERT INTO negotiator_auditevent (chain, seq, negotiation_id, user_id, kind, actor, "
        "created_at, payload_json, hash_version, prev_hash, hash, mac) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 2, %s, %s, %s)",
        [*fields.values(), last.hash, digest, mac(last) if callable(mac) else mac],
    )
    return f"event #{last.seq + 1}"


def tail_deleted(negotiation) -> str:
    last = _events(negotiation)[-1]
    as_superuser("DELETE FROM negotiator_auditevent WHERE id = %s", [last.pk])
    return f"negotiation:{negotiation.pk} is shorter than at checkpoint #1"


def chain_deleted(negotiation) -> str:
    as_superuser("DELETE FROM negotiator_auditevent WHERE chain = %s", [chain_of(negotiation)])
    return f"negotiation:{negotiation.pk} is missing: checkpoint #1 recorded"


def forged_append(negotiation) -> str:
    seq = _forge_append(negotiation, mac="")
    return f"{seq}: no authentication code, and newer than checkpoint #1"


def forged_append_with_a_copied_code(negotiation) -> str:
    seq = _forge_append(negotiation, mac=lambda last: last.mac)
    return f"{seq}: its authentication code does not match"


def rewritten(negotiation) -> str:
    """Event #3 changed and every hash from there on recomputed."""
    events = _events(negotiation)
    prev = events[1].hash
    for event in events[2:]:
        payload = event.payload_json
        if event.seq == 3:
            payload = canonical_json({**event.payload, "forged": True})
        digest = event_digest(
            version=event.hash_version,
            prev_hash=prev,
            chain=event.chain,
            seq=event.seq,
            negotiation_id=event.negotiation_id,
            user_id=event.user_id,
            kind=event.kind,
            actor=event.actor,
            created_at=stamp(event.created_at),
            payload_json=payload,
        )
        as_superuser(
            "UPDATE negotiator_auditevent SET payload_json = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [payload, prev, digest, event.pk],
        )
        prev = digest
    return f"event #{events[-1].seq} differs from checkpoint #1; the chain was rewritten"


def moved_to_another_negotiation(negotiation) -> str:
    other = negotiation_create(playbook=negotiation.playbook, seed=2, start=False)
    as_superuser(
        "UPDATE negotiator_auditevent SET negotiation_id = %s WHERE chain = %s AND seq = 2",
        [other.pk, chain_of(negotiation)],
    )
    return f"broken at event #2 (id {_events(negotiation)[1].pk}): names negotiation {other.pk}"


def user_changed(negotiation, django_user_model=None) -> str:
    event = _events(negotiation)[0]
    as_superuser("UPDATE negotiator_auditevent SET user_id = 424242 WHERE id = %s", [event.pk])
    return f"broken at event #1 (id {event.pk}): content does not match its hash"


def agreed_terms_edited(negotiation) -> str:
    as_superuser(
        "UPDATE negotiator_negotiation SET agreed_terms = agreed_terms || '{\"price\": 1}' "
        "WHERE id = %s",
        [negotiation.pk],
    )
    agreed = next(e for e in _events(negotiation) if e.kind == "negotiation.agreed")
    return f"agreed terms differ from audit event #{agreed.seq}"


def plan_edited(negotiation) -> str:
    as_superuser(
        "UPDATE negotiator_negotiation SET plan = jsonb_set(plan, '{how_much,deal_value}', '1') "
        "WHERE id = %s",
        [negotiation.pk],
    )
    recorded = next(e for e in _events(negotiation) if e.kind == "negotiation.plan_recorded")
    return f"final plan differs from audit event #{recorded.seq}"


def offer_terms_edited(negotiation) -> str:
    offer = Offer.objects.filter(negotiation=negotiation).order_by("id").first()
    as_superuser(
        "UPDATE negotiator_offer SET terms = terms || '{\"price\": 1}' WHERE id = %s", [offer.pk]
    )
    event = next(e for e in _events(negotiation) if e.payload.get("offer_id") == offer.pk)
    return f"offer {offer.pk}: terms differ from audit event #{event.seq}"


CASES = [
    tail_deleted,
    chain_deleted,
    forged_append,
    forged_append_with_a_copied_code,
    rewritten,
    moved_to_another_negotiation,
    user_changed,
    agreed_terms_edited,
    plan_edited,
    offer_terms_edited,
]


def _offline(tmp_path, admin_client, negotiation) -> tuple[int, str]:
    export = json.loads(admin_client.get(f"/negotiations/{negotiation.pk}/audit.json").content)
    extract = admin_client.get(f"/negotiations/{negotiation.pk}/audit/checkpoint.json")
    assert extract.status_code == 200
    (tmp_path / "checkpoint.json").write_bytes(extract.content)
    (tmp_path / "key.pem").write_text(checkpoint_key().public_pem())
    result = run_offline(
        tmp_path,
        export,
        "--checkpoint",
        str(tmp_path / "checkpoint.json"),
        "--key-file",
        str(tmp_path / "key.pem"),
    )
    return result.returncode, result.stdout


def test_an_untouched_trail_verifies_everywhere(sealed, admin_client, tmp_path):
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "all verified and match checkpoint #1" in out.getvalue()
    body = admin_client.get(f"/negotiations/{sealed.pk}/audit/").content.decode()
    assert "Chain verified." in body and "checkpoint #1" in body
    code, stdout = _offline(tmp_path, admin_client, sealed)
    assert code == 0, stdout
    assert "VERIFIED: the trail is intact and matches the signed checkpoint." in stdout
    assert admin_client.get(f"/negotiations/{sealed.pk}/plan.json").status_code == 200


@pytest.mark.parametrize("tamper", CASES, ids=[c.__name__ for c in CASES])
def test_tampering_is_detected(tamper, sealed, admin_client, tmp_path):
    expected = tamper(sealed)

    out = io.StringIO()
    with pytest.raises(CommandError, match="fail verification"):
        call_command("verify_audit", stdout=out)
    assert expected in out.getvalue()

    body = html.unescape(admin_client.get(f"/negotiations/{sealed.pk}/audit/").content.decode())
    assert "Chain verified" not in body
    assert expected in body

    code, stdout = _offline(tmp_path, admin_client, sealed)
    assert code == 1, stdout
    assert "TAMPERED" in stdout

    response = admin_client.get(f"/negotiations/{sealed.pk}/plan.json")
    assert response.status_code == 409
    assert "does not verify against its audit trail" in response.json()["error"]


def test_a_redacted_export_is_not_called_verified(sealed, client, tmp_path, django_user_model):
    """A viewer who may not see a party's private values gets its payloads
    redacted; those events' hashes cannot be recomputed from the export, and the
    offline verifier says so instead of passing them."""
    from django.contrib.auth.models import Group

    viewer = django_user_model.objects.create_user("vera", password="pw")
    viewer.groups.add(Group.objects.get_or_create(name="Operators")[0])
    # A member of the negotiation's team, who may not see the other party's profile.
    viewer.groups.add(sealed.team)
    client.force_login(viewer)
    export = json.loads(client.get(f"/negotiations/{sealed.pk}/audit.json").content)
    assert export["redacted"] is True
    hidden = [e["seq"] for e in export["events"] if e["payload_json"] is None]
    assert hidden
    (tmp_path / "checkpoint.json").write_bytes(
        client.get(f"/negotiations/{sealed.pk}/audit/checkpoint.json").content
    )
    (tmp_path / "key.pem").write_text(checkpoint_key().public_pem())
    result = run_offline(
        tmp_path,
        export,
        "--checkpoint",
        str(tmp_path / "checkpoint.json"),
        "--key-file",
        str(tmp_path / "key.pem"),
    )
    assert result.returncode == 2, result.stdout
    assert f"{len(hidden)} events were redacted in this export" in result.stdout
    assert "ok  hash chain" in result.stdout
