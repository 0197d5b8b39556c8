"""Fixtures for tenders: the shipped tender playbook imported, people, routes, and
tenders played in-process as the worker would."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO

RING = [
    # A planted ring: the designated winner and two cover bids just above it,
    # two of the members owned by one holding (the registry knows).
    {
        "supplier": "Apex Industrial Supply",
        "strategy": "truthful",
        "cost": 100000,
        "terms": {"delivery_days": 30, "warranty_months": 24},
        "fixed_price": 138000,
    },
    {
        "supplier": "Summit Fasteners",
        "strategy": "truthful",
        "cost": 100000,
        "terms": {"delivery_days": 30, "warranty_months": 24},
        "fixed_price": 144900,
    },
    {
        "supplier": "Keystone Bolt Co",
        "strategy": "truthful",
        "cost": 100000,
        "terms": {"delivery_days": 30, "warranty_months": 24},
        "fixed_price": 145300,
    },
    {
        "supplier": "Lakeside Components",
        "strategy": "truthful",
        "cost": 100000,
        "terms": {"delivery_days": 30, "warranty_months": 24},
        "fixed_price": 145600,
    },
]


def tender_document() -> dict:
    return json.loads((REPO / "playbooks" / "tender.json").read_text())


@pytest.fixture
def template(db):
    from negotiator.services.roles import roles_ensure
    from tenders.services.setup import tender_playbook_import

    roles_ensure()
    return tender_playbook_import(tender_document())


def run_tender(tender, limit: int = 500):
    """Play a tender's rounds in-process until it settles."""
    from tenders.models import Tender
    from tenders.services.rounds import tender_run_round

    for _ in range(limit):
        tender.refresh_from_db()
        if not tender_run_round(tender_id=tender.pk, round_number=tender.round):
            break
    tender.refresh_from_db()
    return Tender.objects.get(pk=tender.pk)


@pytest.fixture
def approvers(db):
    from django.contrib.auth.models import Group

    group = Group.objects.get_or_create(name="Approvers")[0]
    return group


@pytest.fixture
def default_route(approvers):
    from approvals.models import ApprovalRoute

    return ApprovalRoute.objects.create(
        name="Everything else", condition_kind="always", is_default=True, approver_group=approvers
    )


@pytest.fixture
def auto_route(db):
    from approvals.models import ApprovalRoute

    return ApprovalRoute.objects.create(
        name="Clean deals are approved automatically", condition_kind="always", decision="auto"
    )
