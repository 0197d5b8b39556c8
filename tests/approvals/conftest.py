"""Fixtures for approvals: a procurement playbook built with the ORM, people in
groups, routes, and negotiations run in-process until they agree."""

from __future__ import annotations

import pytest

BUYER_PROFILE = {
    "weights": {"cost": 0.6, "speed": 0.25, "quality": 0.15},
    "criteria": {
        "cost": [{"issue": "price", "function": {"type": "linear", "direction": "decreasing"}}],
        "speed": [
            {"issue": "delivery_days", "function": {"type": "linear", "direction": "decreasing"}}
        ],
        "quality": [
            {"issue": "warranty_months", "function": {"type": "linear", "direction": "increasing"}}
        ],
    },
    "reservation": 0.25,
    "private_values": {"budget_cap": 115000, "reservation_price": 112000},
}
SELLER_PROFILE = {
    "weights": {"cost": 0.65, "speed": 0.2, "risk": 0.15},
    "criteria": {
        "cost": [{"issue": "price", "function": {"type": "linear", "direction": "increasing"}}],
        "speed": [
            {"issue": "delivery_days", "function": {"type": "linear", "direction": "increasing"}}
        ],
        "risk": [
            {"issue": "warranty_months", "function": {"type": "linear", "direction": "decreasing"}}
        ],
    },
    "reservation": 0.2,
    "private_values": {"unit_cost": 78000, "reservation_price": 90000},
}

PASSWORD = "pw-long-enough-1"


@pytest.fixture
def groups(db):
    from django.contrib.auth.models import Group

    from negotiator.services.roles import roles_ensure

    roles_ensure()
    names = ["Approvers", "Operators", "Finance directors", "Auditors", "Procurement", "Sales"]
    return {name: Group.objects.get_or_create(name=name)[0] for name in names}


@pytest.fixture
def people(groups, django_user_model):
    def make(name, *group_names, **extra):
        user = django_user_model.objects.create_user(
            name, email=f"{name}@example.com", password=PASSWORD, **extra
        )
        for g in group_names:
            user.groups.add(groups[g])
        return user

    return {
        # The operator who starts negotiations is also an approver: the rules
        # must still keep them from approving their own deal.
        "initiator": make("olga", "Operators", "Approvers"),
        "approver": make("anna", "Approvers"),
        "approver2": make("bert", "Approvers"),
        "director": make("dora", "Finance directors"),
        "outsider": make("otto"),
        "buyer_owner": make("paula", "Procurement"),
        "auditor": make("audrey", "Auditors"),
        "colleague": make("carl"),
        "admin": make("root", is_superuser=True, is_staff=True),
    }


@pytest.fixture
def playbook(groups):
    from negotiator.models import FixedTerm, Playbook, PlaybookIssue, Policy, Role
    from negotiator.services.playbooks import playbook_publish
    from negotiator.services.policies import policy_save

    pb = Playbook.objects.create(
        name="Components",
        pattern="concession",
        max_rounds=40,
        deadline_minutes=120,
        offer_ttl_rounds=3,
        value_expression="price",
        team=groups["Procurement"],  # the buyer's side runs it
    )
    for i, (name, lo, hi, step, unit) in enumerate(
        [
            ("price", 80000, 125000, 1000, "USD"),
            ("delivery_days", 5, 45, 5, "days"),
            ("warranty_months", 6, 36, 6, "months"),
        ]
    ):
        PlaybookIssue.objects.create(
            playbook=pb, name=name, minimum=lo, maximum=hi, step=step, unit=unit, order=i
        )
    FixedTerm.objects.create(playbook=pb, name="governing_law", value="Laws of England and Wales")
    Role.objects.create(
        playbook=pb,
        name="buyer",
        label="Buyer",
        profile=BUYER_PROFILE,
        owner_group=groups["Procurement"],
        order=0,
    )
    Role.objects.create(
        playbook=pb,
        name="seller",
        label="Supplier",
        profile=SELLER_PROFILE,
        owner_group=groups["Sales"],
        order=1,
    )
    playbook_publish(playbook=pb)
    policy_save(
        policy=Policy(
            name="Large orders need approval",
            category="financial",
            scope="playbook",
            playbook=pb,
            kind="approval_threshold",
            parameters={"measure": "value", "above": 95000},
            severity="escalate",
        )
    )
    pb.refresh_from_db()
    return pb


@pytest.fixture
def make_route(groups):
    from approvals.models import ApprovalRoute

    def make(**overrides):
        values = {
            "name": "Large deals",
            "condition_kind": "deal_value_above",
            "threshold": 90000,
            "approver_group": groups["Approvers"],
            "approvers_required": 1,
            "sla_hours": 24,
            "on_expiry": "expire",
            "order": 10,
        }
        values.update(overrides)
        return ApprovalRoute.objects.create(**values)

    return make


def run_until_settled(negotiation, limit: int = 500):
    from negotiator.services.rounds import negotiation_run_round

    negotiation.refresh_from_db()
    for _ in range(limit):
        if not negotiation_run_round(
            negotiation_id=negotiation.pk, round_number=negotiation.current_round
        ):
            break
        negotiation.refresh_from_db()
    negotiation.refresh_from_db()
    return negotiation


@pytest.fixture
def agree(playbook, people):
    """Start a negotiation (as the initiator) and run it until it settles."""
    from negotiator.services.lifecycle import negotiation_create

    def make(seed: int = 7, user=None):
        negotiation = negotiation_create(
            playbook=playbook,
            user=user or people["initiator"],
            title=f"Components order {seed}",
            seed=seed,
        )
        return run_until_settled(negotiation)

    return make


@pytest.fixture
def pending(agree, make_route):
    """A negotiation waiting for one approver of the Approvers group."""
    route = make_route()
    negotiation = agree()
    assert negotiation.status == "pending_approval", negotiation.outcome_reason
    request = negotiation.approval_requests.get()
    request.route_obj = route
    return request
