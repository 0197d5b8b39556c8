"""Demo data for `make run` (the bootstrap_demo command): the three shipped playbooks and negotiations in each
state a person meets in the dashboard (running live, approved, escalated, waiting
for approval).

Idempotent: playbooks are imported by name (unchanged documents change nothing),
finished demo negotiations are found by title and never created twice, and a new
live negotiation is started only when no demo negotiation is running, so every
`make run` has one to watch and none pile up.

Finished ones are played synchronously in this process (rounds at full speed, no
broker involved); the live one is left to the worker at a watchable pace.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from approvals.models import ApprovalRequest, ApprovalRoute, ConditionKind, RouteDecision
from approvals.services.decisions import approval_decide
from demo.coalition import coalition_demo_load
from demo.tenders import tenders_demo_load
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Playbook,
    Policy,
    PolicyScope,
    Severity,
)
from negotiator.playbook_io import playbook_import
from negotiator.services.lifecycle import LimitOverrides, negotiation_create, negotiation_start
from negotiator.services.policies import policy_save
from negotiator.services.roles import roles_ensure
from negotiator.services.rounds import negotiation_run_round
from negotiator.services.scheduling import rounds_held

log = logging.getLogger(__name__)

PLAYBOOK_DIR = Path(settings.BASE_DIR) / "playbooks"
PLAYBOOK_FILES = ("procurement.json", "saas.json", "media.json")
DEMO_PREFIX = "Demo · "
LIVE_TITLE = f"{DEMO_PREFIX}live: industrial components order"
LIVE_PACE_SECONDS = 3.0
LIVE_MAX_ROUNDS = 60
SEEDS_TO_TRY = range(1, 5)
EXTRA_GROUPS = ("Procurement", "Sales", "Marketing", "Logistics")


@dataclass(frozen=True)
class Wanted:
    title: str
    playbook_file: str
    statuses: tuple[str, ...]
    # An extra escalate-severity rule on this one negotiation (as an approver's
    # constraint would be), so a person has to step in.
    escalate_rule: dict | None = None


# What the dashboard should show after a fresh `make run`; the first seed whose
# run ends in one of the statuses is kept (the engine is deterministic per seed).
WANTED = (
    Wanted(
        f"{DEMO_PREFIX}SaaS renewal, agreed",
        "saas.json",
        (NegotiationStatus.APPROVED,),
    ),
    Wanted(
        f"{DEMO_PREFIX}components order, waiting for approval",
        "procurement.json",
        (NegotiationStatus.PENDING_APPROVAL,),
    ),
    Wanted(
        f"{DEMO_PREFIX}components order, escalated",
        "procurement.json",
        (NegotiationStatus.ESCALATED,),
        escalate_rule={
            "name": "Accepting above 95,000 needs a person",
            "description": "Demo constraint: an agent may not accept a price above 95,000 alone.",
            "category": "financial",
            "kind": "expression",
            "parameters": {
                "expression": "stage != 'accept' || terms.price <= 95000.0",
                "message": "accepting a price above 95,000 needs a person",
            },
        },
    ),
    Wanted(
        f"{DEMO_PREFIX}media flight, agreed",
        "media.json",
        (NegotiationStatus.APPROVED, NegotiationStatus.PENDING_APPROVAL),
    ),
)


def playbooks_import() -> dict[str, Playbook]:

    for name in EXTRA_GROUPS:
        Group.objects.get_or_create(name=name)
    out = {}
    for filename in PLAYBOOK_FILES:
        path = PLAYBOOK_DIR / filename
        if path.exists():
            out[filename] = playbook_import(json.loads(path.read_text()))
    return out


# Each shipped playbook gets an approval route where a person decides, and one
# route ahead of them approves small deals that passed every policy, so both
# paths show in the dashboard; the default route takes whatever needs a person
# and matches nothing else (a playbook imported later). Created only when no
# route exists yet (an admin's routes win).
DEMO_ROUTES = (
    (
        "procurement.json",
        "Component orders need an approver",
        "Every procurement agreement waits for one approver.",
    ),
    (
        "saas.json",
        "SaaS contracts need an approver",
        "Every SaaS contract agreement waits for one approver.",
    ),
    ("media.json", "Media buys need an approver", "Every media buy waits for one approver."),
)
AUTO_ROUTE = (
    "Small clean deals are approved automatically",
    "Deals worth at most 50,000 that passed every policy (no failed check, nothing waived).",
    "deal.value <= 50000.0",
)
DEFAULT_ROUTE = (
    "Everything else needs an approver",
    "The default route: any deal that needs a person and matches no other route.",
)


def approval_routes_ensure(playbooks: dict[str, Playbook]) -> None:
    if ApprovalRoute.objects.exists():
        return
    approvers = Group.objects.get(name="Approvers")
    name, description, expression = AUTO_ROUTE
    ApprovalRoute.objects.create(
        name=name,
        description=description,
        decision=RouteDecision.AUTO,
        condition_kind=ConditionKind.EXPRESSION,
        expression=expression,
        order=0,
    )
    for order, (filename, name, description) in enumerate(DEMO_ROUTES, start=10):
        if filename in playbooks:
            ApprovalRoute.objects.create(
                name=name,
                description=description,
                condition_kind=ConditionKind.PLAYBOOK,
                playbook=playbooks[filename],
                approver_group=approvers,
                sla_hours=24,
                order=order,
            )
    name, description = DEFAULT_ROUTE
    ApprovalRoute.objects.create(
        name=name,
        description=description,
        is_default=True,
        condition_kind=ConditionKind.ALWAYS,
        approver_group=approvers,
        sla_hours=24,
        order=1000,
    )


def approved_by_demo_approver(negotiation: Negotiation) -> Negotiation:
    """Play the approver's part: approve the open request with a comment."""
    approver = get_user_model().objects.filter(username="approver").first()
    request = ApprovalRequest.objects.filter(negotiation=negotiation, status="pending").first()
    if approver is None or request is None:
        return negotiation
    with rounds_held():
        approval_decide(
            request=request,
            user=approver,
            decision="approve",
            comment="Within budget and the fixed terms are unchanged. Approved.",
        )
    negotiation.refresh_from_db()
    return negotiation


def demo_user():
    return get_user_model().objects.filter(username="admin").first()


def run_to_end(negotiation: Negotiation, limit: int = 2_000) -> Negotiation:

    for _ in range(limit):
        negotiation.refresh_from_db(fields=["current_round", "status"])
        if not negotiation_run_round(
            negotiation_id=negotiation.pk, round_number=negotiation.current_round
        ):
            break
    negotiation.refresh_from_db()
    return negotiation


def negotiation_played(wanted: Wanted, playbook: Playbook, user) -> Negotiation | None:
    """Play a few seeds until one ends in a wanted status. Runs that end otherwise
    stay as ordinary demo rows under another title (audit rows are append-only)."""

    last = None
    for seed in SEEDS_TO_TRY:
        with rounds_held():
            negotiation = negotiation_create(
                playbook=playbook,
                user=user,
                title=wanted.title,
                seed=seed,
                overrides=LimitOverrides(pace_seconds=0),
                start=wanted.escalate_rule is None,
            )
            if wanted.escalate_rule is not None:
                policy_save(
                    policy=Policy(
                        **wanted.escalate_rule,
                        scope=PolicyScope.NEGOTIATION,
                        negotiation=negotiation,
                        severity=Severity.ESCALATE,
                    ),
                    user=user,
                )
                negotiation_start(
                    negotiation=negotiation,
                    user=user,
                    deadline_minutes=playbook.current_version.spec["limits"].get(
                        "deadline_minutes"
                    ),
                )
            negotiation = run_to_end(negotiation)
        if (
            negotiation.status == NegotiationStatus.PENDING_APPROVAL
            and NegotiationStatus.APPROVED in wanted.statuses
        ):
            negotiation = approved_by_demo_approver(negotiation)
        if negotiation.status in wanted.statuses:
            return negotiation
        last = negotiation
        # Free the title for the next seed; this run stays as variety.
        Negotiation.objects.filter(pk=negotiation.pk).update(
            title=f"{DEMO_PREFIX}{playbook.name} (seed {seed})"
        )
    if last is not None:  # none matched: the last run stands in under the wanted title
        Negotiation.objects.filter(pk=last.pk).update(title=wanted.title)
        last.title = wanted.title
    return last


def _live_runs() -> int:
    return Negotiation.objects.filter(title__startswith=LIVE_TITLE).count()


def demo_load() -> str:

    roles_ensure()
    playbooks = playbooks_import()
    if not playbooks:
        return "no playbooks found in playbooks/; nothing loaded"
    approval_routes_ensure(playbooks)
    user = demo_user()
    made = []
    for wanted in WANTED:
        playbook = playbooks.get(wanted.playbook_file)
        if playbook is None or Negotiation.objects.filter(title=wanted.title).exists():
            continue
        negotiation = negotiation_played(wanted, playbook, user)
        if negotiation is not None:
            made.append(f"{negotiation.title} ({negotiation.get_status_display().lower()})")
    live = ""
    procurement = playbooks.get("procurement.json")
    running = Negotiation.objects.filter(
        title__startswith=DEMO_PREFIX, status=NegotiationStatus.RUNNING
    ).exists()
    if procurement is not None and not running:
        negotiation = negotiation_create(
            playbook=procurement,
            user=user,
            # Each run's live negotiation gets its own title: "… (run 3)".
            title=f"{LIVE_TITLE} (run {_live_runs() + 1})",
            overrides=LimitOverrides(
                max_rounds=LIVE_MAX_ROUNDS, deadline_minutes=120, pace_seconds=LIVE_PACE_SECONDS
            ),
            strategies={"buyer": "default", "seller": "conceder"},
        )
        live = f"; live negotiation #{negotiation.pk} started at {LIVE_PACE_SECONDS:g}s per round"
    made += coalition_demo_load(user, approved_by_demo_approver)
    tenders = tenders_demo_load(user) or "no tender playbook"
    summary = f"{Playbook.objects.count()} playbooks, {len(made)} new demo negotiations" + live
    summary += "; " + tenders
    if made:
        summary += " — " + "; ".join(made)
    return summary
