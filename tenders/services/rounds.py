"""Bidding: one round of a tender at a time, run by a Celery task. A round is
claimed by compare-and-set on (status, round), so a task that runs twice changes
nothing the second time; sealed formats collect every bid in one round.

1. tender_claim: the running tender at this round, locked; else nothing to do
2. round_inputs: engine rules, scoring rule, bidders and the standing bids
3. engine: round_play (reverse English) or sealed_collect, with the outside
   bidders' bids for the round (tenders.services.outside) beside our bidders' moves
4. bids_record: the new bids with their scores and policy verdicts, audited
5. next round after the pace, or the close and the award (tenders.services.award)
"""

from __future__ import annotations

from django.db import transaction

from negotiator.engine.auctions import Bid, Format, round_play, sealed_collect
from tenders.models import Tender, TenderBid, TenderStatus
from tenders.services.award import tender_close
from tenders.services.context import RoundInputs, round_inputs
from tenders.services.lifecycle import tender_audit, tender_round_schedule
from tenders.services.outside import submissions_of, submissions_settle


def tender_claim(tender_id: int, round_number: int) -> Tender | None:
    tender = Tender.objects.select_for_update().filter(pk=tender_id).first()
    if tender is None or tender.status != TenderStatus.RUNNING or tender.round != round_number:
        return None
    return tender


def bids_record(tender: Tender, inputs: RoundInputs, new: list[Bid], rejected: list) -> None:
    """Store and audit the round's bids: price, score and the policy verdict (a bid
    a block policy refuses stands in the ladder but can never win)."""
    rows = []
    entries = []
    for bid in new:
        verdict = inputs.checker.verdict(bid)
        score = inputs.scoring.score(bid.terms)
        reason = "" if verdict.outcome == "allow" else f"{verdict.outcome}: {verdict.reason}"
        rows.append(
            TenderBid(
                tender=tender,
                bidder=inputs.rows[bid.bidder],
                round=bid.round,
                at=bid.at,
                terms=dict(bid.terms),
                price=bid.price,
                score=score,
                accepted=True,
                reason=reason[:300],
            )
        )
        entries.append(
            {
                "bidder": bid.bidder,
                "terms": dict(bid.terms),
                "score": round(score, 6),
                "at": bid.at,
                "policy": verdict.outcome,
                "reason": verdict.reason,
            }
        )
    TenderBid.objects.bulk_create(rows)
    tender_audit(
        tender,
        "tender.round_played",
        {
            "round": tender.round,
            "bids": entries,
            "refused": [{"bidder": b, "why": w} for b, w in rejected],
        },
    )


def _sealed(tender: Tender, inputs: RoundInputs) -> None:
    submitted = submissions_of(inputs)
    bids = sealed_collect(
        inputs.bidders, inputs.rules, inputs.scoring, seed=tender.seed, submitted=submitted
    )
    bids_record(tender, inputs, list(bids), [])
    submissions_settle(inputs, submitted, {b.bidder for b in bids}, {})
    tender.round += 1
    tender.save(update_fields=["round", "updated_at"])
    tender_close(tender=tender)


def _english(tender: Tender, inputs: RoundInputs) -> None:
    before = inputs.state
    submitted = submissions_of(inputs)
    after = round_play(
        before,
        inputs.bidders,
        inputs.rules,
        inputs.scoring,
        seed=tender.seed,
        submitted=submitted,
    )
    new, refused = after.bids[len(before.bids) :], after.rejected[len(before.rejected) :]
    bids_record(tender, inputs, list(new), list(refused))
    submissions_settle(inputs, submitted, {b.bidder for b in new}, dict(refused))
    tender.round, tender.close_at, tender.extensions = after.round, after.close_at, after.extensions
    tender.save(update_fields=["round", "close_at", "extensions", "updated_at"])
    if after.extensions > before.extensions:
        tender_audit(
            tender,
            "tender.close_extended",
            {"close_at": after.close_at, "extensions": after.extensions},
        )
    if after.finished:
        tender_close(tender=tender, reason=after.reason)
    else:
        tender_round_schedule(tender, countdown=tender.pace_seconds)


def tender_run_round(*, tender_id: int, round_number: int) -> bool:
    """Play one round; False when there was nothing to do (already played, not running)."""
    with transaction.atomic():
        tender = tender_claim(tender_id, round_number)
        if tender is None:
            return False
        inputs = round_inputs(tender)
        if inputs.rules.format == Format.REVERSE_ENGLISH:
            _english(tender, inputs)
        else:
            _sealed(tender, inputs)
    return True
