"""The request page as a decision page: each cause once, the terms formatted next to
the limits this person may see, what changed since the previous request, and the
request to open next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, QuerySet

from approvals.models import ApprovalRequest, ApprovalStatus
from negotiator.models import Negotiation, Participant, PolicyCheck
from negotiator.selectors.formatting import IssueMeta, format_named, format_value, issue_meta


@dataclass(frozen=True)
class Cause:
    policy: str
    version: int | None
    severity: str
    message: str
    round: int | None
    sender: str
    offer_id: int | None
    value: str
    evidence: dict[str, Any]


def request_causes(results: list[dict[str, Any]], meta: dict[str, IssueMeta], currency: str):
    """Failed checks behind the request, each (policy, message) once, naming the
    policy, the offer, the round and the value it was given."""
    check_ids = [r.get("check_id") for r in results if r.get("check_id")]
    offers = dict(PolicyCheck.objects.filter(pk__in=check_ids).values_list("pk", "offer_id"))
    seen: set[tuple[Any, str]] = set()
    causes = []
    for r in results:
        key = (r.get("policy_id") or r.get("policy"), r.get("message", ""))
        if key in seen:
            continue
        seen.add(key)
        evidence = r.get("evidence") or {}
        value = evidence.get("value")
        issue = evidence.get("issue") or ("deal_value" if evidence.get("measure") else "")
        causes.append(
            Cause(
                policy=r.get("policy", ""),
                version=r.get("version"),
                severity=r.get("severity", ""),
                message=r.get("message", ""),
                round=r.get("round"),
                sender=r.get("sender", ""),
                offer_id=offers.get(r.get("check_id")),
                value="" if value is None else format_named(issue, value, meta, currency)[1],
                evidence=evidence,
            )
        )
    return causes


@dataclass(frozen=True)
class Limit:
    label: str
    text: str


@dataclass
class PartyLimits:
    role: str
    label: str
    strategy: str
    visible: bool
    hidden_why: str = ""
    limits: list[Limit] = field(default_factory=list)
    utility: str = ""


def party_limits(
    participant: Participant,
    *,
    visible: bool,
    by_route: bool,
    utility: float | None,
    meta: dict[str, IssueMeta],
    currency: str,
) -> PartyLimits:
    """One party's private limits, formatted, or why this person does not see them."""
    from negotiator.selectors.strategies import strategy_label

    out = PartyLimits(
        participant.role,
        participant.label or participant.role,
        strategy_label(participant.strategy),
        visible,
    )
    if not visible:
        owners = participant.owner_group.name if participant.owner_group else "the party's owners"
        out.hidden_why = (
            f"Hidden: {out.label}'s limits are private to {owners}, Auditors and admins, "
            "and this request's route does not show them to approvers (an admin can turn "
            "on “approvers see limits” on the route)."
        )
        return out
    profile = participant.profile or {}
    if profile.get("reservation") is not None:
        out.limits.append(Limit("Walk-away utility", format_value(profile["reservation"])))
    for key, value in (profile.get("private_values") or {}).items():
        out.limits.append(Limit(*format_named(key, value, meta, currency)))
    if utility is not None:
        out.utility = f"{utility:.2f}"
    return out


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str
    direction: str  # better, worse or changed (for our side)


def _preference(participant: Participant | None) -> dict[str, str]:
    """issue -> increasing/decreasing, from our party's linear value functions."""
    out: dict[str, str] = {}
    criteria = ((participant.profile or {}).get("criteria") or {}) if participant else {}
    for items in criteria.values():
        for item in items or []:
            function = item.get("function") or {}
            if function.get("type") == "linear" and function.get("direction"):
                out[item.get("issue", "")] = function["direction"]
    return out


def terms_diff(
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    ours: Participant | None,
    meta: dict[str, IssueMeta],
) -> list[Change]:
    """Each term that changed between two requests, with its direction for our side."""
    prefer = _preference(ours)
    changes = []
    for name in [*meta, *[k for k in after if k not in meta]]:
        old, new = before.get(name), after.get(name)
        if old == new or name not in after and name not in before:
            continue
        direction = "changed"
        numeric = all(isinstance(v, int | float) for v in (old, new))
        if numeric and name in prefer:
            up = new > old
            direction = "better" if up == (prefer[name] == "increasing") else "worse"
        unit = meta[name].unit if name in meta else ""
        changes.append(
            Change(
                format_named(name, new, meta)[0],
                format_value(old, unit),
                format_value(new, unit),
                direction,
            )
        )
    return changes


def our_participant(negotiation: Negotiation, participants: list[Participant]):
    """The party the negotiation's team plays (the first one when none is theirs)."""
    team = negotiation.team_id if hasattr(negotiation, "team_id") else None
    for p in participants:
        if team is not None and p.owner_group_id == team:
            return p
    return participants[0] if participants else None


def previous_request(request: ApprovalRequest) -> ApprovalRequest | None:
    """The request this one follows after an approver asked for changes."""
    return (
        ApprovalRequest.objects.filter(
            negotiation_id=request.negotiation_id,
            pk__lt=request.pk,
            status=ApprovalStatus.CHANGES_REQUESTED,
        )
        .order_by("-pk")
        .first()
    )


def resubmission(
    request: ApprovalRequest, participants: list[Participant], meta: dict[str, IssueMeta]
) -> dict[str, Any]:
    previous = previous_request(request)
    if previous is None:
        return {"previous": None, "changes": [], "renegotiation_after": None}
    ours = our_participant(request.negotiation, participants)
    return {
        "previous": previous,
        "previous_decision": previous.decisions.select_related("user").order_by("-pk").first(),
        "changes": terms_diff(previous.terms or {}, request.terms or {}, ours=ours, meta=meta),
        # The last offer recorded before the earlier request opened: the renegotiation
        # after "request changes" starts with the next one.
        "renegotiation_after": request.negotiation.offers.filter(
            created_at__lte=previous.created_at
        ).aggregate(last=Max("pk"))["last"],
        "ours": ours.label or ours.role if ours else "",
    }


def next_request(user, waiting: QuerySet[ApprovalRequest], exclude: int):
    """The next request waiting for this person (due soonest), for 'next request'."""
    return waiting.exclude(pk=exclude).order_by("due_at", "pk").first()


def page_meta(negotiation: Negotiation) -> tuple[dict[str, IssueMeta], str]:
    spec = negotiation.playbook_version.spec
    return issue_meta(spec.get("issues")), spec.get("currency", "")


def outcome_chart_for(negotiation: Negotiation, user, *, show_all: bool):
    """The agreement against the Pareto frontier, when this person may see both
    parties' profiles (or the route shows approvers the limits); else None."""
    from dataclasses import replace

    from negotiator.selectors import charts, negotiations

    parties = negotiations.parties_of(negotiation, user)
    if show_all:
        parties = [replace(p, visible=True) for p in parties]
    return charts.outcome_chart(negotiation, parties)
