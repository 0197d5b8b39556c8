"""Shared by the test_audit_* modules: a checkpoint key and directory, an approved
negotiation with a plan, and tampering as a database superuser would do it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from django.db import connection

from negotiator.models import NegotiationStatus, Policy
from negotiator.services.lifecycle import negotiation_create
from tests.conftest import REPO
from tests.negotiator.conftest import auto_approval_route, run_to_end

# A fixed key keeps the tests deterministic; it protects nothing.
TEST_SEED = bytes(range(32))
TEST_KEY = base64.b64encode(TEST_SEED).decode()
OFFLINE = REPO / "negotiator" / "audit_offline.py"


@pytest.fixture
def signing(settings, tmp_path):
    """A configured checkpoint key and an empty checkpoint directory."""
    settings.AUDIT_CHECKPOINT_KEY = TEST_KEY
    settings.AUDIT_CHECKPOINT_KEY_FILE = ""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR


def approved(playbook, seed: int = 1):
    """A negotiation that ended approved, with agreed terms and a final plan."""
    Policy.objects.filter(kind="approval_threshold").update(active=False)
    auto_approval_route()
    negotiation = run_to_end(negotiation_create(playbook=playbook, seed=seed))
    assert negotiation.status == NegotiationStatus.APPROVED, negotiation.outcome_reason
    assert negotiation.plan and negotiation.agreed_terms
    return negotiation


def as_superuser(sql: str, params: list | None = None) -> int:
    """Run one statement past every trigger, as a superuser (or a replication
    tool) can: session_replication_role = replica. Returns the row count."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params or [])
            return cursor.rowcount
        finally:
            cursor.execute("RESET session_replication_role")


def run_offline(tmp_path, document, *args: str) -> subprocess.CompletedProcess:
    """The offline verifier in an isolated interpreter with no site-packages."""
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    return subprocess.run(
        [sys.executable, "-I", "-S", str(OFFLINE), str(export), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
