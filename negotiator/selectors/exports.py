"""What people take away from the dashboard: the negotiation list as CSV (with the
list's filters) and two offers of one negotiation side by side."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.html import format_html_join

from negotiator.csv_stream import csv_line_writer
from negotiator.models import Negotiation, Offer
from negotiator.selectors.formatting import format_terms_text, format_value, issue_meta
from negotiator.selectors.lists import SORTS, ListFilters, negotiations_search
from negotiator.selectors.visibility import negotiations_visible_to

EXPORT_LIMIT = 10_000
CSV_COLUMNS = [
    "id",
    "title",
    "playbook",
    "status",
    "rounds",
    "max_rounds",
    "started_by",
    "created_at",
    "ended_at",
    "deal_value",
    "currency",
    "terms",
    "outcome_reason",
]


def negotiation_csv_lines(filters: ListFilters, *, user) -> Iterator[str]:
    """The list's rows (same search, status and sort; every page, up to 10,000) as
    CSV lines; `terms` is human-readable ('Price 93,000 USD · Delivery 30 days')."""
    writer = csv_line_writer()
    yield writer.writerow(CSV_COLUMNS)
    rows = negotiations_search(negotiations_visible_to(user), filters.q)
    if filters.status:
        rows = rows.filter(status=filters.status)
    rows = (
        rows.select_related("playbook", "playbook_version", "started_by")
        .defer("engine_state", "plan")
        .order_by(*SORTS.get(filters.sort, SORTS["newest"])[1])
    )
    for n in rows[:EXPORT_LIMIT].iterator(chunk_size=500):
        spec = n.playbook_version.spec if n.playbook_version else {}
        meta = issue_meta((spec or {}).get("issues"))
        yield writer.writerow(
            [
                n.pk,
                n.title,
                n.playbook.name,
                n.status,
                n.current_round,
                n.max_rounds,
                n.started_by.get_username() if n.started_by else "",
                n.created_at.isoformat(),
                n.ended_at.isoformat() if n.ended_at else "",
                "" if n.deal_value is None else n.deal_value,
                (spec or {}).get("currency", ""),
                format_terms_text(n.agreed_terms, meta) if n.agreed_terms else "",
                n.outcome_reason,
            ]
        )


@dataclass(frozen=True)
class CompareRow:
    label: str
    left: str
    right: str
    differs: bool


@dataclass(frozen=True)
class Comparison:
    left: Offer | None
    right: Offer | None
    rows: list[CompareRow]
    choices: list[tuple[int, str]]

    def _options(self, chosen: Offer | None) -> str:
        # Built here, not in a template loop: a long negotiation has 1,000+ offers.
        picked = chosen.pk if chosen else None
        return format_html_join(
            "",
            "<option value='{}'{}>{}</option>",
            ((pk, " selected" if pk == picked else "", label) for pk, label in self.choices),
        )

    @property
    def left_options(self) -> str:
        return self._options(self.left)

    @property
    def right_options(self) -> str:
        return self._options(self.right)


def _offer_choice(offer: Offer) -> str:
    return f"#{offer.pk} · round {offer.round} · {offer.sender} {offer.performative}"


def offers_compare(negotiation: Negotiation, left_id: Any, right_id: Any) -> Comparison:
    """Two offers of this negotiation, term by term (the two latest by default).
    Ids that are not this negotiation's offers fall back to the defaults."""
    # Offer.objects, not negotiation.offers: the related manager would read each
    # offer's deferred negotiation_id (one query per offer).
    offers = list(
        Offer.objects.filter(negotiation_id=negotiation.pk)
        .order_by("pk")
        .only("pk", "round", "sender", "performative", "terms")
    )
    by_id = {o.pk: o for o in offers}

    def pick(raw: Any, fallback: Offer | None) -> Offer | None:
        text = str(raw or "")
        return by_id.get(int(text), fallback) if text.isdigit() and len(text) < 12 else fallback

    with_terms = [o for o in offers if o.terms]
    left = pick(left_id, with_terms[-2] if len(with_terms) > 1 else None)
    right = pick(right_id, with_terms[-1] if with_terms else None)
    meta = issue_meta((negotiation.playbook_version.spec or {}).get("issues"))
    rows = [
        CompareRow(
            "Round",
            str(left.round) if left else "—",
            str(right.round) if right else "—",
            bool(left and right and left.round != right.round),
        ),
        CompareRow(
            "From",
            left.sender if left else "—",
            right.sender if right else "—",
            bool(left and right and left.sender != right.sender),
        ),
        CompareRow(
            "Message",
            left.performative if left else "—",
            right.performative if right else "—",
            False,
        ),
    ]
    names = list(meta) + sorted(
        {k for o in (left, right) if o for k in (o.terms or {})} - set(meta)
    )
    for name in names:
        unit = meta[name].unit if name in meta else ""
        a = (left.terms or {}).get(name) if left else None
        b = (right.terms or {}).get(name) if right else None
        label = meta[name].label if name in meta else name.replace("_", " ").capitalize()
        rows.append(CompareRow(label, format_value(a, unit), format_value(b, unit), a != b))
    return Comparison(left, right, rows, [(o.pk, _offer_choice(o)) for o in offers])
