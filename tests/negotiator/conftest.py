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
