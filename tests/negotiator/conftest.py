"""Fixtures for the negotiator app: the shipped demo playbooks, imported."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO


def load_playbook_document(name: str) -> dict:
    return json.loads((REPO / "playbooks" / f"{name}.json").read_text())


@pytest.fixture
def procurement(db):
    from negotiator.playbook_io import playbook_import

    return playbook_import(load_playbook_document("procurement"))


@pytest.fixture
def saas(db):
    from negotiator.playbook_io import playbook_import

    return playbook_import(load_playbook_document("saas"))


def run_to_end(negotiation, limit: int = 10_000):
    """Run a negotiation's rounds in-process, as the worker would, until it settles."""
    from negotiator.services.rounds import negotiation_run_round

    negotiation.refresh_from_db()
    rounds = 0
    while rounds < limit and negotiation_run_round(
        negotiation_id=negotiation.pk, round_number=negotiation.current_round
    ):
        negotiation.refresh_from_db()
        rounds += 1
    negotiation.refresh_from_db()
    return negotiation


def auto_approval_route():
    """A route that approves clean deals automatically: the gate approves nothing
    unless a route says so (and never a deal with a failed check)."""
    from approvals.models import ApprovalRoute

    return ApprovalRoute.objects.get_or_create(
        name="Clean deals are approved automatically",
        defaults={"condition_kind": "always", "decision": "auto"},
    )[0]


@pytest.fixture
def auto_approval(db):
    return auto_approval_route()


@pytest.fixture
def default_route(db):
    """The default route: deals that need a person and match no route go to Approvers."""
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRoute

    return ApprovalRoute.objects.create(
        name="Everything else",
        condition_kind="always",
        is_default=True,
        approver_group=Group.objects.get_or_create(name="Approvers")[0],
    )
