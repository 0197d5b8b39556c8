"""Fixtures for the REST API: two teams' playbooks, the people around them, and
their API tokens (made through the service, as the tokens page does)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.negotiator.conftest import load_playbook_document
from tests.negotiator.test_views import make_user


class Api:
    """Django's test client speaking to the API with a bearer token."""

    def __init__(self, client, secret: str | None) -> None:
        self.client = client
        self.secret = secret

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def get(self, path: str, **params):
        return self.client.get(f"/api{path}", params, headers=self._headers())

    def post(self, path: str, body=None, *, raw: str | bytes | None = None):
        data = raw if raw is not None else __import__("json").dumps(body or {})
        return self.client.post(
            f"/api{path}", data, content_type="application/json", headers=self._headers()
        )


def token_for(user, name: str = "tests", days: int = 30) -> str:
    from api.services.tokens import token_create

    return token_create(user=user, name=name, days=days)[1]


@pytest.fixture
def teams(db):
    """Team A (Procurement) and team B (Marketing) with their playbooks, an approval
    route for every deal of each, and the people around them."""
    from approvals.models import ApprovalRoute, ConditionKind
    from negotiator.playbook_io import playbook_import
    from negotiator.services.roles import roles_ensure

    roles_ensure()
    team_a = playbook_import(load_playbook_document("procurement"))
    team_b = playbook_import(load_playbook_document("media"))
    for order, playbook in enumerate((team_a, team_b)):
        ApprovalRoute.objects.create(
            name=f"Every {playbook.name} deal",
            condition_kind=ConditionKind.PLAYBOOK,
            playbook=playbook,
            approver_group=Group.objects.get(name="Approvers"),
            sla_hours=24,
            order=order,
        )
    return {
        "team_a": team_a,
        "team_b": team_b,
        "operator": make_user("mia", "Procurement", "Operators"),
        "approver": make_user("abe", "Procurement", "Approvers"),
        "member": make_user("max", "Procurement"),
        "outsider": make_user("olga", "Marketing", "Operators", "Approvers"),
        "auditor": make_user("audrey", "Auditors"),
    }


@pytest.fixture
def api_as(client):
    def make(user) -> Api:
        return Api(client, token_for(user))

    return make


def agreed(playbook, title: str, user=None):
    """A negotiation of this playbook that reached an agreement (waiting for
    approval), played in-process; the first seed that agrees."""
    from negotiator.models import NegotiationStatus
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.scheduling import rounds_held
    from tests.negotiator.conftest import run_to_end

    for seed in range(1, 12):
        with rounds_held():
            created = negotiation_create(playbook=playbook, title=title, seed=seed, user=user)
        negotiation = run_to_end(created)
        if negotiation.status == NegotiationStatus.PENDING_APPROVAL:
            return negotiation
    raise AssertionError("no seed reached an agreement")
