"""Reads for judging the model: LLM-assisted negotiations against deterministic
ones (agreement rate, rounds, savings) and what the model calls cost and how
often they fell back."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import mean

from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from negotiator.engine.measures import deal_measure
from negotiator.llm.config import LLM_STRATEGY
from negotiator.llm.models import LLMExchange
from negotiator.models import Negotiation, NegotiationStatus, Participant, Playbook
from negotiator.selectors.negotiations import first_proposals

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
    savings = _savings(agreed)
    return Arm(
        label=label,
        finished=len(rows),
        agreements=len(agreed),
        mean_rounds=mean(n.current_round for n in rows) if rows else None,
        mean_savings=mean(savings) if savings else None,
        savings_basis=len(savings),
    )


def _our_roles(ids: list[int]) -> dict[int, str]:
    """Per negotiation: the LLM-assisted role, else its first role (one query)."""
    roles: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = Participant.objects.filter(negotiation_id__in=ids).order_by(
        "negotiation_id", "order", "id"
    )
    for pk, role, strategy in rows.values_list("negotiation_id", "role", "strategy"):
        roles[pk].append((role, strategy))
    out = {}
    for pk, pairs in roles.items():
        assisted = [r for r, s in pairs if s == LLM_STRATEGY]
        out[pk] = assisted[0] if assisted else pairs[0][0]
    return out


def _counterpart_openings(ids: list[int], ours: dict[int, str]) -> dict[int, dict]:
    """Per negotiation: the first proposal of a party other than ours."""
    out = {}
    for pk, by_sender in first_proposals(ids).items():
        other = next((t for sender, t in by_sender.items() if sender != ours.get(pk)), None)
        if other is not None:
            out[pk] = other
    return out


def _savings(agreed: list[Negotiation]) -> list[float]:
    """Per agreement with a deal value: the counterpart's opening ask minus it."""
    valued = [n for n in agreed if n.deal_value is not None]
    ids = [n.pk for n in valued]
    openings = _counterpart_openings(ids, _our_roles(ids))
    out = []
    for negotiation in valued:
        opening = openings.get(negotiation.pk)
        if opening is None:
            continue
        spec = negotiation.playbook_version.spec
        ask = deal_measure(spec.get("value_expression", ""), opening)
        if ask is not None:
            out.append(float(ask) - float(negotiation.deal_value))
    return out
