"""Reads for the approval views, tasks and the nav badge.

Who sees a request (visible_requests; anyone else gets a 404):

- everyone who sees its negotiation (its team; Auditors and superusers see all,
  negotiator.selectors.visibility.negotiations_visible_to);
- members of a group it is routed to: its current approver group, its leading
  route's approver and escalation groups, and every matched route's group, so
  an approver outside the negotiation's team can still decide what is routed to
  their group (the request page shows what they need to decide);
- colleagues with an active delegation from such a member;
- whoever has decided it (for themselves or on someone's behalf).

Seeing a request is not deciding it: approval_permission decides that.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from approvals.models import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRoute,
    ApprovalStatus,
    DecisionKind,
    Delegation,
)
from negotiator import permissions
from negotiator.engine.policies import fmt_number
from negotiator.models import Negotiation, Participant, Playbook, PolicyCheck
from negotiator.selectors.formatting import format_value, term_views
from negotiator.selectors.visibility import negotiations_visible_to

# --------------------------------------------------------------------------
# Who may do what
# --------------------------------------------------------------------------


def _group_ids(user) -> set[int]:
    return set(permissions.group_ids(user))


def is_auditor(user) -> bool:
    return permissions.is_auditor(user)


def active_delegations_to(user, *, now=None) -> QuerySet[Delegation]:
    now = now or timezone.now()
    return Delegation.objects.filter(
        delegate=user,
        revoked_at__isnull=True,
        starts_at__lte=now,
        ends_at__gt=now,
        delegator__is_active=True,
    ).select_related("delegator")


def _delegated_group_ids(user) -> set[int]:
    delegators = active_delegations_to(user).values("delegator")
    return set(Group.objects.filter(user__in=delegators).values_list("pk", flat=True).distinct())


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str = ""
    on_behalf_of: Any = None


def approval_permission(*, request: ApprovalRequest, user) -> Permission:
    """May this person decide this request, and for whom?

    Members of the request's current approver group (and superusers) decide for
    themselves; a colleague with an active delegation from a member decides on
    that member's behalf. Whoever started the negotiation never decides it."""
    if user is None or not user.is_authenticated:
        return Permission(False, "Log in to decide approval requests.")
    started_by = request.negotiation.started_by_id
    if started_by is not None and started_by == user.pk:
        return Permission(
            False,
            "You started this negotiation, so you cannot approve it; another approver must decide.",
        )
    group = request.approver_group
    if user.is_superuser or request.approver_group_id in _group_ids(user):
        return Permission(True)
    decided = decided_identities(request)
    for delegation in active_delegations_to(user).order_by("starts_at", "pk"):
        delegator = delegation.delegator
        if delegator.pk == started_by or delegator.pk in decided:
            continue
        if delegator.is_superuser or delegator.groups.filter(pk=request.approver_group_id).exists():
            return Permission(True, on_behalf_of=delegator)
    return Permission(False, f"Only members of {group.name} can decide this request.")


def decided_identities(request: ApprovalRequest) -> set[int]:
    ids: set[int] = set()
    for user_id, behalf_id in request.decisions.values_list("user_id", "on_behalf_of_id"):
        ids.add(user_id)
        if behalf_id:
            ids.add(behalf_id)
    return ids


def approval_can_view(*, request: ApprovalRequest, user) -> bool:
    return visible_requests(user).filter(pk=request.pk).exists()


def may_see_private(*, user, participant: Participant) -> bool:
    """A party's private profile: superusers, Auditors, and that party's owners."""
    return permissions.may_see_private(user, participant)


def approval_count(*, request: ApprovalRequest) -> int:
    """Distinct people who approved (a delegate's approval counts for the delegator)."""
    people = set()
    for user_id, behalf_id in request.decisions.filter(decision=DecisionKind.APPROVE).values_list(
        "user_id", "on_behalf_of_id"
    ):
        people.add(behalf_id or user_id)
    return len(people)


def approver_names(*, request: ApprovalRequest) -> str:
    names = []
    for decision in request.decisions.filter(decision=DecisionKind.APPROVE).select_related(
        "user", "on_behalf_of"
    ):
        name = decision.user.get_username()
        if decision.on_behalf_of:
            name += f" (for {decision.on_behalf_of.get_username()})"
        names.append(name)
    return ", ".join(names)


def approver_emails(*, request: ApprovalRequest) -> list[str]:
    """Members of the current approver group with an email, and their active delegates."""
    users = get_user_model().objects.filter(is_active=True)
    members = users.filter(groups=request.approver_group_id)
    now = timezone.now()
    delegates = users.filter(
        delegations_received__delegator__in=members,
        delegations_received__revoked_at__isnull=True,
        delegations_received__starts_at__lte=now,
        delegations_received__ends_at__gt=now,
    )
    # Whoever started the negotiation cannot decide it, so it is no notice for them.
    started_by = request.negotiation.started_by_id
    emails = {u.email for u in [*members, *delegates] if u.email and u.pk != started_by}
    return sorted(emails)


# --------------------------------------------------------------------------
# The inbox
# --------------------------------------------------------------------------


def visible_requests(user) -> QuerySet[ApprovalRequest]:
    """The requests this person may open (the rule is in this module's docstring)."""
    qs = ApprovalRequest.objects.select_related(
        "negotiation", "negotiation__playbook", "route", "approver_group"
    )
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if permissions.visible_team_ids(user) is None:
        return qs
    groups = sorted(_group_ids(user) | _delegated_group_ids(user))
    routed = ApprovalRequest.routes.through.objects.filter(
        approvalrequest_id=OuterRef("pk"), approvalroute__approver_group__in=groups
    )
    decided = ApprovalDecision.objects.filter(request_id=OuterRef("pk")).filter(
        Q(user=user) | Q(on_behalf_of=user)
    )
    return qs.filter(
        Q(negotiation__in=negotiations_visible_to(user))
        | Q(approver_group__in=groups)
        | Q(route__approver_group__in=groups)
        | Q(route__escalation_group__in=groups)
        | Exists(routed)
        | Exists(decided)
    )


def waiting_for(user) -> QuerySet[ApprovalRequest]:
    """Pending requests this person can decide and has not decided yet (all of
    them routed to their groups, so all of them visible to them)."""
    qs = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).select_related(
        "negotiation", "negotiation__playbook", "route", "approver_group"
    )
    if not user.is_superuser:
        qs = qs.filter(approver_group__in=_group_ids(user) | _delegated_group_ids(user))
    return (
        qs.exclude(negotiation__started_by=user)
        .exclude(decisions__user=user)
        .exclude(decisions__on_behalf_of=user)
    )


def inbox_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return waiting_for(user).count()


STATUS_FILTERS = ["waiting", *ApprovalStatus.values, "all"]


# Sortable inbox columns: the URL's ?sort= value -> the ORM ordering ("-" flips it).
INBOX_SORTS = {
    "due": ("due_at", "pk"),
    "value": ("deal_value", "pk"),
    "negotiation": ("negotiation_id", "pk"),
    "status": ("status", "due_at"),
    "decided": ("decided_at", "pk"),
    "opened": ("created_at", "pk"),
}
INBOX_LIMIT = 200


@dataclass
class InboxFilters:
    status: str = "waiting"
    route: int | None = None
    playbook: int | None = None
    q: str = ""
    sort: str = "due"

    def ordering(self) -> list[str]:
        descending = self.sort.startswith("-")
        fields = INBOX_SORTS.get(self.sort.lstrip("-"), INBOX_SORTS["due"])
        return [f"-{f}" if descending else f for f in fields]


def _search(qs: QuerySet[ApprovalRequest], text: str) -> QuerySet[ApprovalRequest]:
    """Negotiation or request number ('42', '#42'), title, playbook or route name."""
    text = text.strip()
    if not text:
        return qs
    match = Q(negotiation__title__icontains=text) | Q(negotiation__playbook__name__icontains=text)
    match |= Q(route__name__icontains=text)
    number = text.lstrip("#")
    if number.isdigit() and len(number) < 10:
        match |= Q(negotiation_id=int(number)) | Q(pk=int(number))
    return qs.filter(match)


def inbox_requests(user, filters: InboxFilters) -> list[ApprovalRequest]:
    if filters.status == "waiting":
        qs = waiting_for(user)
    else:
        qs = visible_requests(user)
        if filters.status in ApprovalStatus.values:
            qs = qs.filter(status=filters.status)
    if filters.route:
        qs = qs.filter(Q(route=filters.route) | Q(routes=filters.route)).distinct()
    if filters.playbook:
        qs = qs.filter(negotiation__playbook=filters.playbook)
    qs = _search(qs, filters.q).select_related("negotiation__playbook_version")
    rows = list(qs.order_by(*filters.ordering())[:INBOX_LIMIT])
    now = timezone.now()
    decidable = set(
        waiting_for(user).filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True)
    )
    for row in rows:
        row.overdue = row.is_pending and row.due_at < now
        row.due_in = row.due_at - now
        row.approvals_done = 0
        row.may_decide = row.pk in decidable
        spec = row.negotiation.playbook_version.spec if row.negotiation.playbook_version else {}
        row.value_text = format_value(row.deal_value, (spec or {}).get("currency", ""))
    counts: dict[int, set[int]] = {}
    for request_id, user_id, behalf_id in ApprovalDecision.objects.filter(
        request__in=[r.pk for r in rows], decision=DecisionKind.APPROVE
    ).values_list("request_id", "user_id", "on_behalf_of_id"):
        counts.setdefault(request_id, set()).add(behalf_id or user_id)
    for row in rows:
        row.approvals_done = len(counts.get(row.pk, ()))
    return rows


def filter_choices(user) -> dict[str, Any]:
    """Routes (configuration, the same for everyone) and the playbooks of the
    requests this person sees."""
    seen = visible_requests(user).values("negotiation__playbook_id")
    return {
        "routes": list(ApprovalRoute.objects.order_by("order", "name").values_list("pk", "name")),
        "playbooks": list(
            Playbook.objects.filter(pk__in=seen).order_by("name").values_list("pk", "name")
        ),
        "statuses": [("waiting", "Waiting for me"), *ApprovalStatus.choices, ("all", "All")],
    }


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------

PERIODS = (7, 30, 90)


@dataclass
class RouteMetrics:
    route: str
    opened: int = 0
    approved: int = 0
    rejected: int = 0
    changes_requested: int = 0
    expired: int = 0
    pending: int = 0
    durations: list[float] = field(default_factory=list)

    @property
    def closed(self) -> int:
        return self.approved + self.rejected + self.changes_requested + self.expired

    @property
    def approval_rate(self) -> float | None:
        return self.approved / self.closed if self.closed else None

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.durations) / 3600 if self.durations else None

    @property
    def median_text(self) -> str:
        hours = self.median_hours
        if hours is None:
            return "—"
        if hours < 1:
            return f"{hours * 60:.0f} min"
        return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"

    @property
    def rate_text(self) -> str:
        rate = self.approval_rate
        return "—" if rate is None else f"{rate:.0%}"


def approval_metrics(*, user, days: int, now=None) -> tuple[RouteMetrics, list[RouteMetrics]]:
    """(all routes together, per route) over the requests this person sees that
    opened in the last `days` days.

    Time to decision counts human decisions only (approved, rejected, changes
    requested); the approval rate is approved / closed (expired counts as closed)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    total = RouteMetrics("All routes")
    per: dict[int, RouteMetrics] = {}
    rows = (
        visible_requests(user)
        .filter(created_at__gte=since)
        .values_list("route_id", "route__name", "status", "created_at", "decided_at")
    )
    for route_id, name, status, created, decided in rows:
        metrics = per.setdefault(route_id, RouteMetrics(name))
        for m in (total, metrics):
            m.opened += 1
            if status == ApprovalStatus.PENDING:
                m.pending += 1
            else:
                setattr(m, status, getattr(m, status) + 1)
            if status != ApprovalStatus.EXPIRED and decided is not None:
                m.durations.append((decided - created).total_seconds())
    return total, sorted(per.values(), key=lambda m: m.route)


# --------------------------------------------------------------------------
# The request page
# --------------------------------------------------------------------------


def check_to_dict(check: PolicyCheck) -> dict[str, Any]:
    """A policy check as stored in an approval request's reasons."""
    version = check.policy_version
    return {
        "check_id": check.pk,
        "policy_id": version.policy_id,
        "policy": version.name,
        "version": version.number,
        "kind": version.kind,
        "severity": check.severity,
        "passed": check.passed,
        "message": check.message,
        "evidence": check.evidence,
        "round": check.round,
        "sender": check.sender,
        "stage": check.stage,
        "waived_by": check.waived_by_id,
    }


def _public_evidence(result: dict[str, Any], private_roles: Iterable[str]) -> dict[str, Any]:
    """Hide evidence that reveals a party's private values from people who may not see it."""
    evidence = result.get("evidence") or {}
    if evidence.get("private") and result.get("sender") not in private_roles:
        return {**result, "evidence": {"hidden": "private to the sending party"}}
    return result


def _shown(value: Any) -> Any:
    """Numbers as people write them (99,000; 0.25); anything else unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_number(value)
    return value


def request_detail(*, request: ApprovalRequest, user) -> dict[str, Any]:
    from approvals import review

    negotiation: Negotiation = request.negotiation
    participants = list(negotiation.participants.select_related("owner_group"))
    private_roles = {p.role for p in participants if may_see_private(user=user, participant=p)}
    meta, currency = review.page_meta(negotiation)
    agreed = request.offer
    permission = approval_permission(request=request, user=user)
    # An admin may let a route's approvers see the limits (ApprovalRoute.approvers_see_limits).
    by_route = bool(request.route and request.route.approvers_see_limits and permission.allowed)
    parties = [
        review.party_limits(
            p,
            visible=p.role in private_roles or by_route,
            by_route=by_route,
            utility=(agreed.utilities or {}).get(p.role) if agreed else None,
            meta=meta,
            currency=currency,
        )
        for p in participants
    ]
    if by_route:
        private_roles = {p.role for p in participants}
    reasons = request.reasons or {}
    routes = [
        {
            **route,
            "matched_items": [
                (key.replace("_", " ").capitalize(), _shown(value))
                for key, value in (route.get("matched") or {}).items()
                if key not in ("terms", "policy_checks")
            ],
        }
        for route in reasons.get("routes", [])
    ]
    results = [_public_evidence(r, private_roles) for r in reasons.get("policy_results", [])]
    agreed_checks = []
    if agreed is not None:
        for check in agreed.checks.select_related("policy_version").order_by("pk"):
            agreed_checks.append(_public_evidence(check_to_dict(check), private_roles))
    decisions = list(request.decisions.select_related("user", "on_behalf_of"))
    return {
        "outcome_chart": review.outcome_chart_for(negotiation, user, show_all=by_route),
        "terms": term_views(request.terms, meta),
        "parties": parties,
        "routes": routes,
        "causes": review.request_causes(results, meta, currency),
        "agreed_checks": agreed_checks,
        "offers": list(negotiation.offers.order_by("pk")),
        "meta": meta,
        "decisions": decisions,
        "permission": permission,
        "approvals_done": approval_count(request=request),
        "overdue": request.is_pending and request.due_at < timezone.now(),
        "currency": currency,
        "deal_value_text": format_value(request.deal_value, currency),
        "resubmission": review.resubmission(request, participants, meta),
        "next_request": review.next_request(user, waiting_for(user), request.pk),
        "later_requests": list(
            visible_requests(user)
            .filter(negotiation=negotiation)
            .exclude(pk=request.pk)
            .order_by("pk")
        ),
        # An approver outside the negotiation's team decides from this page;
        # the negotiation's own pages stay with its team (they would be a 404).
        "may_open_negotiation": permissions.may_see_negotiation(user, negotiation),
        "own_policies": list(negotiation.own_policies.order_by("pk")),
    }
