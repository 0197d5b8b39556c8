"""Reads for judging the model: LLM-assisted negotiations against deterministic
ones (agreement rate, rounds, savings) and what the model calls cost and how
often they fell back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from statistics import mean

from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from negotiator.engine.measures import deal_measure
from negotiator.llm.config import LLM_STRATEGY
from negotiator.llm.models import LLMExchange
from negotiator.models import Negotiation, NegotiationStatus, Offer, Participant, Playbook

# Still going: not part of a comparison of outcomes.
OPEN = (NegotiationStatus.DRAFT, NegotiationStatus.RUNNING)


@dataclass(frozen=True)
class Arm:
    """One side of the comparison."""

    label: str
    finished: int = 0
    agreements: int = 0
    mean_rounds: float | None = None
    mean_savings: float | None = None
    savings_basis: int = 0  # agreements with an opening ask and a deal value

    @property
    def agreement_rate(self) -> float | None:
        return self.agreements / self.finished if self.finished else None

    @property
    def agreement_percent(self) -> str:
        rate = self.agreement_rate
        return "" if rate is None else f"{rate:.0%}"


@dataclass(frozen=True)
class Comparison:
    llm: Arm
    deterministic: Arm
    calls: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    tokens: int = 0

    @property
    def fallback_count(self) -> int:
        return sum(self.fallbacks.values())

    @property
    def fallback_rate(self) -> float | None:
        return self.fallback_count / self.calls if self.calls else None

    @property
    def fallback_percent(self) -> str:
        rate = self.fallback_rate
        return "" if rate is None else f"{rate:.0%}"


def llm_comparison(
    *,
    playbook: Playbook | None = None,
    since: datetime | None = None,
    negotiations: QuerySet[Negotiation] | None = None,
) -> Comparison:
    """Finished negotiations with an LLM-assisted seat against those without one.

    ``negotiations``: the rows the reader may see (default: all). Savings, per
    agreement: the counterpart's opening ask minus the agreed deal value (the
    playbook's value expression), from the side of the assisted role (or, for
    deterministic runs, the playbook's first role); positive means we paid less."""
    rows = (negotiations if negotiations is not None else Negotiation.objects.all()).exclude(
        status__in=OPEN
    )
    if playbook is not None:
        rows = rows.filter(playbook=playbook)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    assisted = Participant.objects.filter(negotiation=OuterRef("pk"), strategy=LLM_STRATEGY)
    rows = rows.annotate(assisted=Exists(assisted)).select_related("playbook_version")
    llm_rows = [n for n in rows if n.assisted]
    plain_rows = [n for n in rows if not n.assisted]
    exchanges = LLMExchange.objects.filter(negotiation__in=[n.pk for n in llm_rows], purpose="seat")
    totals = exchanges.aggregate(i=Sum("tokens_in"), o=Sum("tokens_out"), n=Count("id"))
    fallbacks = Counter(
        dict(
            exchanges.exclude(fallback="")
            .values_list("fallback")
            .annotate(n=Count("id"))
            .values_list("fallback", "n")
        )
    )
    return Comparison(
        llm=_arm("LLM-assisted", llm_rows),
        deterministic=_arm("Deterministic", plain_rows),
        calls=totals["n"] or 0,
        fallbacks=dict(sorted(fallbacks.items())),
        tokens=(totals["i"] or 0) + (totals["o"] or 0),
    )


def _arm(label: str, rows: list[Negotiation]) -> Arm:
    agreed = [n for n in rows if n.agreed_terms]
    savings = [s for s in (_savings(n) for n in agreed) if s is not None]
    return Arm(
        label=label,
        finished=len(rows),
        agreements=len(agreed),
        mean_rounds=mean(n.current_round for n in rows) if rows else None,
        mean_savings=mean(savings) if savings else None,
        savings_basis=len(savings),
    )


def _our_role(negotiation: Negotiation) -> str | None:
    roles = list(negotiation.participants.values_list("role", "strategy"))
    assisted = [r for r, s in roles if s == LLM_STRATEGY]
    return assisted[0] if assisted else (roles[0][0] if roles else None)


def _savings(negotiation: Negotiation) -> float | None:
    if negotiation.deal_value is None:
        return None
    role = _our_role(negotiation)
    opening = (
        Offer.objects.filter(negotiation=negotiation, performative__in=("propose", "counter"))
        .exclude(sender=role)
        .order_by("id")
        .values_list("terms", flat=True)
        .first()
    )
    if opening is None:
        return None
    spec = negotiation.playbook_version.spec
    ask = deal_measure(spec.get("value_expression", ""), opening)
    return None if ask is None else float(ask) - float(negotiation.deal_value)
