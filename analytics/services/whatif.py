"""What-if replay: the last N negotiations of a playbook played again through the
engine under the current playbook and under a draft (analytics.services.drafts),
side by side. Nothing is written: no negotiation, offer, check or audit event.

Same seeds and seats as recorded: our built-in seats and built-in counterparts
re-run their strategies (the draft's roles); an outside seat (an agent over A2A,
a person in the portal) cannot be asked again, so it is modelled from its
recorded offers by a time-dependent concession curve fitted to them (Faratin's
exponent e, least squares), accepting what it accepted before; each row says so.
An agreement needs a person unless the approval routes would approve it
automatically (the rule of approvals.services.gate). Savings on both sides are
measured against the counterpart's opening ask in the current replay, so a draft
that also moves the counterpart's first offer is compared on one baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from analytics.services.drafts import Draft, DraftError
from approvals.models import RouteDecision
from approvals.services.gate import AgreementChecks, approval_routes_match
from negotiator import bridge
from negotiator.audit import canonical_json
from negotiator.engine import governance
from negotiator.engine.measures import deal_measure
from negotiator.engine.preferences import profile_from_dict
from negotiator.engine.protocol import Cause, Status, run
from negotiator.engine.strategies import TimeDependent, concession_target, make_strategy
from negotiator.models import (
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    Playbook,
    PlaybookVersion,
)
from negotiator.selectors.escalations import our_seat
from negotiator.selectors.visibility import negotiations_visible_to

MAX_LAST = 500
PROPOSALS = ("propose", "counter")
# Faratin exponents tried when fitting an outside seat's concession (0.05 … 20).
E_GRID = np.exp(np.linspace(math.log(0.05), math.log(20.0), 241))
ESCALATING = (Status.ESCALATED, Status.STALLED)
LIMIT_CAUSES = (Cause.MAX_ROUNDS, Cause.DEADLINE)


@dataclass(frozen=True)
class Replay:
    status: str
    cause: str
    terms: dict[str, Any] | None
    deal_value: float | None
    opening_ask: float | None  # the counterpart's first offer's value in this replay
    own_opening: float | None  # our first offer's value in this replay
    savings: float | None  # against the opening ask of the current replay (one baseline)
    escalated: bool
    needs_person: bool
    blocks: int
    rounds: int

    @property
    def agreed(self) -> bool:
        return self.terms is not None

    def text(self) -> str:
        if self.terms is None:
            return f"{self.status} ({self.cause.replace('_', ' ')})"
        terms = ", ".join(
            f"{k} {v:,}" if isinstance(v, int | float) else f"{k} {v}"
            for k, v in self.terms.items()
        )
        return f"agreed: {terms}"


@dataclass(frozen=True)
class OutsideModel:
    role: str
    offers: int
    e: float
    accept_threshold: float | None
    note: str


@dataclass(frozen=True)
class ReplayRow:
    negotiation_id: int
    title: str
    recorded_status: str
    current: Replay
    draft: Replay
    modelled: list[OutsideModel] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (self.current.status, self.current.terms) != (self.draft.status, self.draft.terms)


@dataclass(frozen=True)
class SideSummary:
    runs: int
    agreements: int
    agreement_rate: float | None
    mean_savings: float | None
    escalations: int
    approval_load: int
    policy_blocks: int


@dataclass(frozen=True)
class WhatIfReport:
    playbook: str
    playbook_id: int
    last: int
    draft_label: str
    rows: list[ReplayRow]
    current: SideSummary
    draft: SideSummary

    @property
    def changed(self) -> list[ReplayRow]:
        return [r for r in self.rows if r.changed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "last": self.last,
            "draft": self.draft_label,
            "current_summary": asdict(self.current),
            "draft_summary": asdict(self.draft),
            "negotiations": [
                {
                    "negotiation": r.negotiation_id,
                    "url": f"/negotiations/{r.negotiation_id}/",
                    "title": r.title,
                    "recorded_status": r.recorded_status,
                    "changed": r.changed,
                    "current": asdict(r.current),
                    "draft": asdict(r.draft),
                    "modelled": [asdict(m) for m in r.modelled],
                }
                for r in self.rows
            ],
        }


# --- outside seats -----------------------------------------------------------------


def _fit_e(points: Sequence[tuple[float, float]], pmin: float, pmax: float) -> float:
    """The exponent whose concession curve is nearest the recorded utilities."""
    t = np.array([p[0] for p in points])
    u = np.array([p[1] for p in points])
    errors = [
        float(((np.array([concession_target(x, e, pmin, pmax) for x in t]) - u) ** 2).sum())
        for e in E_GRID
    ]
    return float(E_GRID[int(np.argmin(errors))])


def outside_model(negotiation: Negotiation, participant: Participant, space) -> OutsideModel:
    """An outside seat as a fitted time-dependent strategy, from its recorded offers."""
    profile = profile_from_dict(participant.profile)
    span = max(negotiation.max_rounds - 1, 1)
    points, accepted = [], []
    rows = Offer.objects.filter(negotiation=negotiation, sender=participant.role).order_by("id")
    for offer in rows.only("round", "performative", "terms", "utilities"):
        try:
            u = (offer.utilities or {}).get(participant.role)
            u = float(u) if u is not None else profile.utility(offer.terms, space)
        except (KeyError, TypeError, ValueError):
            continue
        if offer.performative in PROPOSALS:
            points.append((min(1.0, offer.round / span), u))
        elif offer.performative == "accept":
            accepted.append(u)
    threshold = min(accepted) if accepted else None
    kind = participant.get_seat_display().lower()
    if len(points) < 2:
        return OutsideModel(
            participant.role,
            len(points),
            1.0,
            threshold,
            f"{participant.role} ({kind}): fewer than two recorded offers, modelled as "
            "linear concession",
        )
    pmax = float(profile.utility_array(space).max())
    e = _fit_e(points, profile.reservation, pmax)
    return OutsideModel(
        participant.role,
        len(points),
        e,
        threshold,
        f"{participant.role} ({kind}): modelled from {len(points)} recorded offers, "
        f"fitted concession e = {e:.2f}"
        + (f", accepts from utility {threshold:.2f}" if threshold is not None else ""),
    )


# --- one replay --------------------------------------------------------------------


def _checks_of(gate: governance.PolicyGate, terms: Mapping[str, Any]) -> AgreementChecks:
    """The replay's failed checks in the shape the approval gate reads."""

    def row(result):
        return SimpleNamespace(
            pk=None,
            severity=str(result.severity),
            policy_version=SimpleNamespace(name=result.policy_name),
        )

    escalate, thresholds, other = [], [], []
    for record in gate.records:
        for result in record.results:
            if result.passed or result.waived_by is not None:
                continue
            on_agreed = dict(record.offer.terms) == dict(terms)
            if result.kind == "approval_threshold":
                if on_agreed:
                    thresholds.append(row(result))
            elif result.severity == "escalate":
                escalate.append(row(result))
            elif on_agreed:
                other.append(row(result))
    return AgreementChecks(escalate=escalate, thresholds=thresholds, waived=[], other=other)


def _needs_person(playbook: Playbook, draft: Draft, gate, terms, value, risk) -> bool:
    checks = _checks_of(gate, terms)
    shadow = Negotiation(
        playbook=playbook,
        playbook_version=PlaybookVersion(spec=dict(draft.spec)),
        agreed_terms=dict(terms),
        deal_value=value,
        deal_risk=risk,
    )
    matches = approval_routes_match(negotiation=shadow, checks=checks)
    lead = matches[0] if matches else None
    auto = lead is not None and lead.route.decision == RouteDecision.AUTO and lead.certain
    return not (auto and checks.clean)


def _openings(history, ours: str | None, rule: str) -> tuple[float | None, float | None]:
    """The values of the counterpart's and our first offers."""
    first: dict[str, dict] = {}
    for offer in history:
        if offer.performative in PROPOSALS:
            first.setdefault(offer.sender, dict(offer.terms))
    theirs = [t for s, t in first.items() if s != ours]
    ask = deal_measure(rule, theirs[0]) if theirs else None
    own = deal_measure(rule, first[ours]) if ours in first else None
    return ask, own


def savings_against(baseline: Replay, value: float | None) -> float | None:
    """Savings of a deal value against the baseline's opening ask, as a share of it
    (the sign follows our side, as on the outcomes page)."""
    ask, own = baseline.opening_ask, baseline.own_opening
    if ask is None or value is None or not ask:
        return None
    sign = -1.0 if (own or 0) > ask else 1.0
    return sign * (ask - value) / abs(ask)


def _strategies(participants, roles, models) -> dict[str, Any]:
    out = {}
    for p in participants:
        if p.is_outside:
            m = models[p.role]
            out[p.role] = TimeDependent(label="fitted", e=m.e, accept_threshold=m.accept_threshold)
            continue
        role = roles[p.role]
        try:
            out[p.role] = make_strategy(role["strategy"], **(role.get("strategy_params") or {}))
        except ValueError as exc:
            raise DraftError([(f"roles.{p.role}.strategy", str(exc))]) from None
    return out


def _engine_inputs(negotiation, participants, draft: Draft, models, setups: dict):
    """The setup (each party's allowed outcomes under the draft's policies), the
    policy gate and the strategies, as a live round builds them."""
    spec = draft.spec
    roles = {r["name"]: r for r in spec["roles"]}
    missing = sorted(p.role for p in participants if p.role not in roles)
    if missing:
        raise DraftError(
            [("roles", f"no role {', '.join(missing)}, which negotiation #{negotiation.pk} has")]
        )
    profiles = {
        p.role: p.profile if p.is_outside else roles[p.role]["profile"] for p in participants
    }
    issue_types = {i["name"]: i.get("type", "numeric") for i in spec["issues"]}
    rules = {
        "value_rule": spec.get("value_expression", ""),
        "risk_rule": spec.get("risk_expression", ""),
    }
    fixed = dict(spec.get("fixed_terms", {}))

    def build():
        allowed = governance.allowed_masks(
            bridge.space_from_spec(spec),
            draft.policies,
            profiles,
            fixed_terms=fixed,
            issue_types=issue_types,
            **rules,
        )
        return bridge.setup_from_spec(
            spec,
            [(p.role, profiles[p.role]) for p in participants],
            max_rounds=int(spec["limits"]["max_rounds"]),
            deadline=None,
            allowed=allowed,
        )

    # Negotiations of one playbook mostly share profiles: the allowed outcomes
    # and utility tables (most of a replay's cost) are built once per draft.
    key = (id(draft), tuple((p.role, canonical_json(profiles[p.role])) for p in participants))
    if key not in setups:
        setups[key] = build()
    setup = setups[key]
    gate = governance.PolicyGate(
        specs=list(draft.policies),
        profiles=profiles,
        fixed_terms=fixed,
        issue_types=issue_types,
        **rules,
    )
    return setup, gate, _strategies(participants, roles, models)


def replay_one(
    negotiation: Negotiation,
    participants: Sequence[Participant],
    draft: Draft,
    models: Mapping[str, OutsideModel],
    setups: dict | None = None,
) -> Replay:
    """One negotiation under one draft, in memory. ``setups`` caches engine setups
    between calls of one comparison."""
    setups = {} if setups is None else setups
    setup, gate, strategies = _engine_inputs(negotiation, participants, draft, models, setups)
    state = run(setup, strategies, gate=gate, seed=negotiation.seed).state
    agreed = state.status == Status.AGREED and state.agreement is not None
    terms = dict(state.agreement) if agreed else None
    value_rule = draft.spec.get("value_expression", "")
    value = deal_measure(value_rule, terms) if terms else None
    risk = deal_measure(draft.spec.get("risk_expression", ""), terms) if terms else None
    cause = state.cause
    ours = our_seat(participants, negotiation.team_id)
    ask, own = _openings(state.history, ours.role if ours else None, value_rule)
    limits = draft.spec.get("limits", {})
    on_limit = limits.get("on_limit") == "escalate" and cause in LIMIT_CAUSES
    return Replay(
        status=str(state.status),
        cause=str(cause) if cause is not None else "",
        terms=terms,
        deal_value=value,
        opening_ask=ask,
        own_opening=own,
        savings=None,
        escalated=state.status in ESCALATING or on_limit,
        needs_person=terms is not None
        and _needs_person(negotiation.playbook, draft, gate, terms, value, risk),
        blocks=sum(1 for r in gate.records if r.verdict == "block"),
        rounds=state.round + (1 if terms is not None else 0),
    )


# --- the comparison ----------------------------------------------------------------


def _summary(replays: Sequence[Replay]) -> SideSummary:
    agreed = [r for r in replays if r.agreed]
    savings = [r.savings for r in agreed if r.savings is not None]
    return SideSummary(
        runs=len(replays),
        agreements=len(agreed),
        agreement_rate=len(agreed) / len(replays) if replays else None,
        mean_savings=sum(savings) / len(savings) if savings else None,
        escalations=sum(r.escalated for r in replays),
        approval_load=sum(r.needs_person for r in replays),
        policy_blocks=sum(r.blocks for r in replays),
    )


def whatif_negotiations(*, playbook: Playbook, last: int, user=None) -> list[Negotiation]:
    """The last N negotiations of the playbook that ended or wait for a person."""
    negotiations = negotiations_visible_to(user) if user is not None else Negotiation.objects
    return list(
        negotiations.filter(playbook=playbook)
        .exclude(status__in=[NegotiationStatus.DRAFT, NegotiationStatus.RUNNING])
        .select_related("playbook")
        .prefetch_related("participants")
        .order_by("-created_at", "-pk")[:last]
    )


def whatif_replay(
    *, playbook: Playbook, current: Draft, draft: Draft, last: int, user=None
) -> WhatIfReport:
    """Replay the last ``last`` negotiations under ``current`` and ``draft``."""
    if not 1 <= last <= MAX_LAST:
        raise DraftError([("last", f"replay between 1 and {MAX_LAST} negotiations, not {last}")])
    rows, setups = [], {}
    for negotiation in whatif_negotiations(playbook=playbook, last=last, user=user):
        participants = list(negotiation.participants.all())
        space = bridge.space_from_spec(current.spec)
        models = {
            p.role: outside_model(negotiation, p, space) for p in participants if p.is_outside
        }
        now = replay_one(negotiation, participants, current, models, setups)
        then = replay_one(negotiation, participants, draft, models, setups)
        rows.append(
            ReplayRow(
                negotiation_id=negotiation.pk,
                title=str(negotiation),
                recorded_status=negotiation.status,
                current=replace(now, savings=savings_against(now, now.deal_value)),
                draft=replace(then, savings=savings_against(now, then.deal_value)),
                modelled=list(models.values()),
            )
        )
    return WhatIfReport(
        playbook=playbook.name,
        playbook_id=playbook.pk,
        last=last,
        draft_label=draft.label,
        rows=rows,
        current=_summary([r.current for r in rows]),
        draft=_summary([r.draft for r in rows]),
    )
