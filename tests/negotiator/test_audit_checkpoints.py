"""Signed checkpoints: written outside the database, numbered and linked, never
vouching for a trail that disagrees with the last one; forged ones rejected;
clear words when there is no key or no checkpoint; the beat task in a real
worker; both round write paths authenticate their events."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from negotiator import round_store
from negotiator.audit import chain_of
from negotiator.audit_key import checkpoint_key
from negotiator.audit_offline import (
    checkpoint_digest,
    checkpoint_verify,
    event_mac,
    signing_message,
)
from negotiator.checks import audit_checkpoint_key_check
from negotiator.models import AuditEvent
from negotiator.selectors.audit_trail import trail_verify
from negotiator.selectors.checkpoints import NO_CHECKPOINT, NO_KEY, chain_heads, checkpoint_status
from negotiator.services.checkpoints import checkpoint_write
from negotiator.services.errors import Conflict
from negotiator.services.lifecycle import negotiation_create
from tests.conftest import REPO, celery_worker, wait_for
from tests.negotiator.audit_fixtures import TEST_KEY, approved, as_superuser, signing  # noqa: F401
from tests.negotiator.conftest import run_to_end


@pytest.mark.django_db
def test_checkpoints_are_numbered_linked_and_signed(signing, procurement):  # noqa: F811
    negotiation = approved(procurement)
    first = checkpoint_write()
    run_to_end(negotiation_create(playbook=procurement, seed=5))
    second = checkpoint_write()
    assert (first.number, second.number) == (1, 2)
    assert sorted(p.name for p in signing.iterdir()) == [
        "checkpoint-00000001.json",
        "checkpoint-00000002.json",
        "latest.json",
    ]
    latest = json.loads((signing / "latest.json").read_text())
    assert latest == second.document
    assert latest["heads"] == chain_heads()
    assert latest["signed"]["previous"] == checkpoint_digest(first.document)
    assert latest["signed"]["chains"] == 3  # global and two negotiations
    key = checkpoint_key()
    assert checkpoint_verify(latest, key.public).valid
    signature = base64.b64decode(latest["signature"])
    key.private.public_key().verify(signature, signing_message(latest["signed"]))  # raises if bad
    head = next(h for h in latest["heads"] if h["chain"] == chain_of(negotiation))
    assert head["events"] == AuditEvent.objects.filter(chain=chain_of(negotiation)).count()


@pytest.mark.django_db
def test_a_checkpoint_is_not_written_over_a_trail_that_disagrees(signing, procurement):  # noqa: F811
    negotiation = approved(procurement)
    checkpoint_write()
    last = AuditEvent.objects.filter(chain=chain_of(negotiation)).order_by("-seq").first()
    as_superuser("DELETE FROM negotiator_auditevent WHERE id = %s", [last.pk])
    with pytest.raises(Conflict, match=f"negotiation:{negotiation.pk} is shorter than at"):
        checkpoint_write()
    assert not (signing / "checkpoint-00000002.json").exists()


def _forge(directory, number: int, document: dict, key: Ed25519PrivateKey) -> None:
    signed = {**document["signed"], "number": number}
    forged = {
        **document,
        "signed": signed,
        "signature": base64.b64encode(key.sign(signing_message(signed))).decode(),
    }
    (directory / f"checkpoint-{number:08d}.json").write_text(json.dumps(forged))
    (directory / "latest.json").write_text(json.dumps(forged))


@pytest.mark.django_db
def test_a_checkpoint_forged_without_the_key_is_rejected(signing, procurement, client):  # noqa: F811
    negotiation = approved(procurement)
    genuine = checkpoint_write().document
    _forge(signing, 2, genuine, Ed25519PrivateKey.generate())

    status = checkpoint_status()
    assert status.latest.number == 1  # the genuine one still counts
    assert status.problems[0].startswith("checkpoint #2: its signature does not verify with key")
    out = io.StringIO()
    with pytest.raises(CommandError, match="fail verification"):
        call_command("verify_audit", stdout=out)
    assert "checkpoint #2: its signature does not verify" in out.getvalue()
    client.force_login(_superuser())
    body = client.get(f"/negotiations/{negotiation.pk}/audit/").content.decode()
    assert "Chain verified" not in body and "checkpoint #2: its signature does not verify" in body
    with pytest.raises(Conflict, match="does not verify"):
        checkpoint_write()


@pytest.mark.django_db
def test_heads_edited_under_a_genuine_signature_are_rejected(signing, procurement):  # noqa: F811
    approved(procurement)
    document = checkpoint_write().document
    document["heads"][0]["events"] += 1
    (signing / "checkpoint-00000001.json").write_text(json.dumps(document))
    (signing / "latest.json").unlink()
    status = checkpoint_status()
    assert status.latest is None
    assert status.problems == ("checkpoint #1: its chain heads do not match its signed root",)


@pytest.mark.django_db
def test_latest_json_put_back_to_an_older_checkpoint_hides_nothing(signing, procurement):  # noqa: F811
    approved(procurement)
    first = checkpoint_write()
    checkpoint_write()
    (signing / "latest.json").write_text(json.dumps(first.document))
    assert checkpoint_status().latest.number == 2


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", password="pw")


@pytest.mark.django_db
def test_without_a_key_every_verifier_says_truncation_cannot_be_detected(procurement, client):
    negotiation = approved(procurement)
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", stdout=out, stderr=err)
    assert "all verified." in out.getvalue()
    assert NO_KEY in err.getvalue()
    with pytest.raises(CommandError, match="No checkpoint key is configured"):
        call_command("verify_audit", "--strict", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="No checkpoint key is configured"):
        call_command("audit_checkpoint", stderr=io.StringIO())
    client.force_login(_superuser())
    body = client.get(f"/negotiations/{negotiation.pk}/audit/").content.decode()
    assert "a deleted tail or a chain rewritten with recomputed hashes cannot be detected" in body
    response = client.get(f"/negotiations/{negotiation.pk}/audit/checkpoint.json")
    assert response.status_code == 404 and response.json()["error"] == NO_KEY


@pytest.mark.django_db
def test_with_a_key_but_no_checkpoint_yet_it_says_so(signing, procurement):  # noqa: F811
    negotiation = approved(procurement)
    trail = trail_verify(chain_of(negotiation))
    assert trail.ok and trail.warnings == [NO_CHECKPOINT]
    assert "No checkpoint: truncation cannot be detected" in NO_CHECKPOINT


def test_manage_check_warns_in_production_without_a_key():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDIT_CHECKPOINT")},
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "negotiator.W001" in result.stderr + result.stdout
    assert "No audit checkpoint key is configured" in result.stderr + result.stdout


def test_production_without_a_key_gets_a_warning_and_a_bad_key_an_error(settings):
    settings.DEBUG = False
    settings.AUDIT_CHECKPOINT_KEY = ""
    settings.AUDIT_CHECKPOINT_KEY_FILE = ""
    assert [m.id for m in audit_checkpoint_key_check(None)] == ["negotiator.W001"]
    settings.DEBUG = True
    assert audit_checkpoint_key_check(None) == []
    settings.AUDIT_CHECKPOINT_KEY = "bm90IGEga2V5"  # base64 of "not a key"
    [error] = audit_checkpoint_key_check(None)
    assert error.id == "negotiator.E001" and "AUDIT_CHECKPOINT_KEY is not an Ed25519" in error.msg
    settings.AUDIT_CHECKPOINT_KEY = TEST_KEY
    assert audit_checkpoint_key_check(None) == []


def test_the_command_makes_keys_and_prints_the_public_key(tmp_path, settings):
    key_file = tmp_path / "audit.key"
    out = io.StringIO()
    call_command("audit_checkpoint", generate_key=str(key_file), stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("-----BEGIN PUBLIC KEY-----")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(CommandError, match="exists; not overwriting"):
        call_command("audit_checkpoint", generate_key=str(key_file), stderr=io.StringIO())
    settings.AUDIT_CHECKPOINT_KEY, settings.AUDIT_CHECKPOINT_KEY_FILE = "", str(key_file)
    public = io.StringIO()
    call_command("audit_checkpoint", public_key=True, stdout=public)
    assert public.getvalue() == out.getvalue()


@pytest.mark.django_db
def test_the_command_writes_and_exports_checkpoints(signing, procurement, tmp_path):  # noqa: F811
    negotiation = approved(procurement)
    err = io.StringIO()
    call_command("audit_checkpoint", stderr=err, stdout=io.StringIO())
    assert err.getvalue().startswith("Checkpoint #1: 2 chains,")
    extract_file = tmp_path / "extract.json"
    call_command(
        "audit_checkpoint", latest=True, negotiation=negotiation.pk, output=str(extract_file)
    )
    extract = json.loads(extract_file.read_text())
    assert [h["chain"] for h in extract["heads"]] == [chain_of(negotiation)]
    assert checkpoint_verify(extract, checkpoint_key().public).valid
    with pytest.raises(CommandError, match="has no head for negotiation 987654"):
        call_command("audit_checkpoint", latest=True, negotiation=987654)


@pytest.mark.django_db
def test_a_changed_key_does_not_vouch_for_events_of_the_old_one(settings, signing, procurement):  # noqa: F811
    """Rotating the key without moving the old checkpoints away is refused:
    events authenticated under the old key no longer match."""
    settings.AUDIT_CHECKPOINT_KEY = base64.b64encode(bytes(32)).decode()
    with pytest.raises(Conflict, match="global: event #1's authentication code does not match"):
        checkpoint_write()


@pytest.mark.django_db
def test_both_round_write_paths_authenticate_their_events(signing, procurement, monkeypatch):  # noqa: F811
    fast = run_to_end(negotiation_create(playbook=procurement, seed=11))
    monkeypatch.setattr(round_store, "uses_pipeline", lambda: False)
    slow = run_to_end(negotiation_create(playbook=procurement, seed=11))
    key = checkpoint_key()
    for negotiation in (fast, slow):
        events = AuditEvent.objects.filter(chain=chain_of(negotiation))
        assert {e.hash_version for e in events} == {2}
        assert all(e.mac == event_mac(key.mac_key, e.hash) for e in events)
        assert all(e.negotiation_id == negotiation.pk for e in events)
        assert trail_verify(chain_of(negotiation)).ok


@pytest.mark.worker
def test_beat_writes_checkpoints_through_a_real_worker(worker_env, tmp_path, procurement):
    checkpoints = tmp_path / "checkpoints"
    env = {
        **worker_env,
        "AUDIT_CHECKPOINT_KEY": TEST_KEY,
        "AUDIT_CHECKPOINT_DIR": str(checkpoints),
        "AUDIT_CHECKPOINT_EVERY_SECONDS": "10",
        "NEGOTIATOR_VAR_DIR": str(tmp_path / "var"),
    }
    command = [
        str(REPO / ".venv" / "bin" / "celery"),
        "-A",
        "negotiator",
        "worker",
        "-B",
        "--loglevel=INFO",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        f"--hostname=beat-{os.getpid()}@%h",
    ]
    with celery_worker(tmp_path, env, command=command):
        wait_for(lambda: (checkpoints / "checkpoint-00000001.json").exists(), timeout=60)
    document = json.loads((checkpoints / "checkpoint-00000001.json").read_text())
    assert document["heads"] == chain_heads()
    from negotiator.audit_offline import public_key_parse

    public = Ed25519PrivateKey.from_private_bytes(base64.b64decode(TEST_KEY)).public_key()
    assert checkpoint_verify(
        document, public_key_parse(base64.b64encode(public.public_bytes_raw()).decode())
    ).valid


def test_existing_version_1_rows_keep_verifying_after_the_migration(tmp_path):
    """A database from before hash versions (the demo's SQLite file): its rows
    were hashed by version 1, keep it through the migration, and verify; new
    rows are version 2 on the same chain."""
    script = """
import django, os
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
call_command("migrate", "negotiator", "0002", verbosity=0)
call_command("migrate", "auth", verbosity=0)
from negotiator.audit_offline import GENESIS, canonical_json, event_digest
prev = GENESIS
with connection.cursor() as cursor:
    for seq in (1, 2):
        payload = canonical_json({"i": seq})
        stamp = "2026-01-01T00:00:0%d+00:00" % seq
        digest = event_digest(version=1, prev_hash=prev, chain="global", seq=seq,
            negotiation_id=None, user_id=None, kind="old.event", actor="system",
            created_at=stamp, payload_json=payload)
        cursor.execute(
            "INSERT INTO negotiator_auditevent (chain, seq, kind, actor, created_at, "
            "payload_json, prev_hash, hash) VALUES ('global', %s, 'old.event', 'system', %s, %s, %s, %s)",
            [seq, stamp, payload, prev, digest])
        prev = digest
call_command("migrate", verbosity=0)
from negotiator.audit import audit_append
with transaction.atomic():
    audit_append(kind="new.event", actor="system", payload={"i": 3})
from negotiator.models import AuditEvent
print([e.hash_version for e in AuditEvent.objects.order_by("seq")])
call_command("verify_audit")
"""
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}",
        "NEGOTIATOR_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "negotiator.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1, 1, 2]" in result.stdout
    assert "1 chains, 3 events: all verified." in result.stdout


@pytest.mark.django_db
def test_the_audit_status_page_compares_every_chain_for_auditors(signing, procurement, client):  # noqa: F811
    from django.contrib.auth import get_user_model

    negotiation = approved(procurement)
    client.force_login(get_user_model().objects.create_user("olga", password="pw"))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/checkpoint.json").status_code == 403
    client.force_login(_superuser())
    assert "No checkpoint: truncation cannot be detected" in client.get("/audit/").content.decode()
    assert client.get("/audit/checkpoint.json").status_code == 404

    checkpoint_write()
    body = client.get("/audit/").content.decode()
    assert "Every chain matches checkpoint #1." in body
    assert client.get("/audit/checkpoint.json").json()["signed"]["number"] == 1
    pem = client.get("/audit/public-key.pem").content.decode()
    assert pem == checkpoint_key().public_pem()

    as_superuser("DELETE FROM negotiator_auditevent WHERE chain = %s", [chain_of(negotiation)])
    body = client.get("/audit/").content.decode()
    assert f"negotiation:{negotiation.pk} is missing: checkpoint #1 recorded" in body
