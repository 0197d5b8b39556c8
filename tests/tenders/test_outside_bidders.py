"""Outside bidders in tenders: a supplier's person or agent bids beside the
built-in bidders, through its own credential, with the same checks, and sees
only what the format allows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from negotiator.engine.auctions import (
    Bidder,
    Format,
    RoundState,
    ScoringRule,
    Submission,
    TenderRules,
    round_play,
    sealed_collect,
)
from negotiator.models import AuditEvent
from negotiator.services.errors import NotAllowed, ServiceError
from tenders.models import BidderCredential, BidderKind, BidderMessage, TenderBid, TenderStatus
from tenders.services import outside
from tenders.services.rounds import tender_run_round
from tests.tenders.conftest import run_tender

pytestmark = pytest.mark.django_db

PERSON = {
    "supplier": "Harbor Bolt Works",
    "kind": "person",
    "name": "Ana",
    "email": "ana@harbor.test",
}
AGENT = {"supplier": "Quay Fasteners", "kind": "remote_agent"}
TERMS = {"price": 140000, "delivery_days": 20, "warranty_months": 24}


def _start(template, *extra, **overrides):
    return outside.tender_create_with_outside(
        template=template,
        base_url="https://buyer.test",
        outside=list(extra),
        overrides=overrides or None,
        seed=7,
    )


def _bidder(tender, supplier):
    return tender.bidders.select_related("supplier", "tender").get(supplier__name=supplier)


# --------------------------------------------------------------------------- engine


def _scoring(template):
    from tenders.services.setup import scoring_rule, tender_config_parse

    spec = template.playbook.current_version.spec
    return scoring_rule(spec, tender_config_parse(template.config))


def test_engine_an_outside_submission_meets_the_same_decrement_rule_as_ours(template):
    scoring: ScoringRule = _scoring(template)
    rules = TenderRules(
        format=Format.REVERSE_ENGLISH, min_decrement=2500, opening_price=160000, max_rounds=5
    )
    ours = Bidder("Ours", "truthful", 100000, {"delivery_days": 20, "warranty_months": 24})
    them = Bidder("Them", "outside", 0.0)
    state = round_play(RoundState(close_at=600), [ours, them], rules, scoring, seed=1)
    assert [b.bidder for b in state.bids] == ["Ours"]  # an outside bidder without a bid is quiet
    best = state.bids[-1].price
    # Not enough of a step under the standing bid (same terms): refused with the reason.
    short = {**ours.terms, "price": best - 100}
    after = round_play(state, [them], rules, scoring, seed=1, submitted={"Them": Submission(short)})
    assert after.bids == state.bids
    assert after.rejected[-1] == ("Them", "does not beat the best score by the minimum decrement")
    # Malformed: refused, never stands.
    bad = round_play(
        state, [them], rules, scoring, seed=1, submitted={"Them": Submission({"price": "cheap"})}
    )
    assert bad.rejected[-1][1] == "malformed bid: price is not a number"
    # A real step stands, at its arrival time in the round.
    good = {**ours.terms, "price": best - 2500}
    stood = round_play(
        state, [them], rules, scoring, seed=1, submitted={"Them": Submission(good, offset=30)}
    )
    assert stood.bids[-1].bidder == "Them" and stood.bids[-1].at == state.round * 60 + 30
    # Only an outside bidder's entry counts: a submission under a built-in name is ignored.
    forged = round_play(state, [ours], rules, scoring, seed=1, submitted={"Ours": Submission(good)})
    assert all(b.terms != good for b in forged.bids)


def test_engine_sealed_formats_take_the_outside_bid_and_leave_a_malformed_one_out(template):
    scoring = _scoring(template)
    rules = TenderRules(format=Format.FIRST_SCORE)
    them, junk = Bidder("Them", "outside", 0.0), Bidder("Junk", "outside", 0.0)
    bids = sealed_collect(
        [them, junk],
        rules,
        scoring,
        seed=3,
        submitted={"Them": Submission(TERMS), "Junk": Submission({**TERMS, "price": -5})},
    )
    assert [(b.bidder, b.price) for b in bids] == [("Them", 140000)]


# --------------------------------------------------------------------------- creating


def test_a_tender_with_outside_bidders_issues_each_a_credential_once_and_mails_the_person(
    template,
):
    tender, issued = _start(template, PERSON, AGENT)
    assert {i.bidder.supplier.name: i.seat for i in issued} == {
        "Harbor Bolt Works": "person",
        "Quay Fasteners": "remote_agent",
    }
    person = next(i for i in issued if i.seat == "person")
    agent = next(i for i in issued if i.seat == "remote_agent")
    assert person.link.startswith("https://buyer.test/tenders/bid/nl_")
    assert agent.secret.startswith("nb_") and agent.agent_card.endswith("agent-card.json")
    # Stored only as a hash.
    assert not BidderCredential.objects.filter(secret_hash__contains=agent.secret).exists()
    assert mail.outbox[-1].to == ["ana@harbor.test"] and person.link in mail.outbox[-1].body
    assert person.mailed_to == "ana@harbor.test" and not person.mail_failed
    assert tender.status == TenderStatus.RUNNING
    # A round with outside bidders stays open for them.
    tender.refresh_from_db()
    assert tender.round_opened_at is not None
    kinds = dict(tender.bidders.values_list("supplier__name", "kind"))
    assert kinds["Harbor Bolt Works"] == BidderKind.PERSON
    assert _bidder(tender, "Harbor Bolt Works").private_cost is None


@pytest.mark.parametrize(
    ("bidder", "message"),
    [
        ({"supplier": "X", "kind": "person"}, "needs a valid e-mail address"),
        ({"supplier": "X", "kind": "person", "email": "not-mail"}, "needs a valid e-mail"),
        ({"supplier": "X", "kind": "remote_agent", "cost": 5}, "not cost"),
        ({"supplier": "X", "kind": "robot"}, "kind must be builtin"),
        ({"supplier": "Boltwerk GmbH", "kind": "remote_agent"}, "listed twice"),
    ],
)
def test_a_bad_outside_bidder_is_refused_and_nothing_is_created(template, bidder, message):
    from tenders.models import Tender

    with pytest.raises(ServiceError, match=message):
        _start(template, bidder)
    assert not Tender.objects.exists()
    assert not mail.outbox


# --------------------------------------------------------------------------- credentials


def test_a_credential_opens_only_its_own_bidder_and_not_when_expired_or_revoked(template):
    tender, issued = _start(template, PERSON, AGENT)
    person = next(i for i in issued if i.seat == "person")
    agent = next(i for i in issued if i.seat == "remote_agent")
    found = outside.bidder_credential_verify(secret=person.secret, kind=BidderKind.PERSON)
    assert found.bidder.supplier.name == "Harbor Bolt Works"
    # A person's link is not an agent's token, and the other way round.
    for secret, kind in ((person.secret, BidderKind.REMOTE_AGENT), (agent.secret, "person")):
        with pytest.raises(NotAllowed):
            outside.bidder_credential_verify(secret=secret, kind=kind)
    # Another tender's bidders never open with this one's secret: it is one bidder's.
    other, other_issued = _start(template, {**PERSON, "email": "b@harbor.test"})
    assert (
        outside.bidder_credential_verify(secret=other_issued[0].secret, kind="person").bidder.tender
        == other
    )
    # Revoked.
    outside.bidder_credential_revoke(credential=found)
    with pytest.raises(NotAllowed):
        outside.bidder_credential_verify(secret=person.secret, kind=BidderKind.PERSON)
    # Expired.
    BidderCredential.objects.filter(pk=agent.credential.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(NotAllowed):
        outside.bidder_credential_verify(secret=agent.secret, kind=BidderKind.REMOTE_AGENT)
    kinds = set(
        AuditEvent.objects.filter(negotiation=tender.award_negotiation).values_list(
            "kind", flat=True
        )
    )
    assert {
        "tender.credential_issued",
        "tender.credential_revoked",
        "tender.invite_mailed",
    } <= kinds


def test_every_use_of_a_credential_is_recorded(template):
    tender, issued = _start(template, AGENT)
    credential = issued[0].credential
    outside.bidder_credential_use_record(credential=credential, address="203.0.113.9", what="bid")
    credential.refresh_from_db()
    assert credential.uses == 1 and credential.last_used_from == "203.0.113.9"
    event = AuditEvent.objects.filter(
        negotiation=tender.award_negotiation, kind="tender.credential_used"
    ).get()
    assert event.payload["address"] == "203.0.113.9" and event.payload["bidder"] == "Quay Fasteners"


# --------------------------------------------------------------------------- bidding


def test_an_outside_bid_is_checked_kept_pending_and_played_with_the_round(template):
    tender, _ = _start(template, AGENT)
    bidder = _bidder(tender, "Quay Fasteners")
    result = outside.outside_bid_submit(bidder=bidder, terms=TERMS, message_id="m1", via="a2a")
    assert result.as_reply() == {"tender": tender.pk, "round": 0, "status": "received"}
    bidder.refresh_from_db()
    assert bidder.pending_terms == TERMS and bidder.pending_round == 0
    # Replayed: the recorded answer, nothing new.
    again = outside.outside_bid_submit(
        bidder=bidder, terms={"price": 1}, message_id="m1", via="a2a"
    )
    assert again.replayed and again.round == 0
    assert BidderMessage.objects.filter(bidder=bidder).count() == 1
    bidder.refresh_from_db()
    assert bidder.pending_terms == TERMS
    assert tender_run_round(tender_id=tender.pk, round_number=0)
    bid = TenderBid.objects.get(bidder=bidder)
    assert bid.price == 140000 and bid.round == 0
    bidder.refresh_from_db()
    assert bidder.pending_terms is None and bidder.note == "Your bid in round 1 stands."
    event = AuditEvent.objects.filter(
        negotiation=tender.award_negotiation, kind="tender.bid_received"
    ).get()
    assert event.payload["terms"] == TERMS and event.payload["via"] == "a2a"


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"price": 140000}, "delivery_days is missing"),
        ({**TERMS, "price": "cheap"}, "price is not a number"),
        ({**TERMS, "price": float("nan")}, "price nan is outside"),
        ({**TERMS, "price": 10}, "price 10 is outside"),
        ({**TERMS, "warranty_months": True}, "warranty_months is not a number"),
        ({**TERMS, "exclusivity": "yes"}, "'exclusivity' is not a term of this tender"),
        ("a string", "terms must be an object"),
    ],
)
def test_a_malformed_bid_gets_a_precise_error_and_changes_nothing(template, terms, message):
    tender, _ = _start(template, AGENT)
    bidder = _bidder(tender, "Quay Fasteners")
    with pytest.raises(outside.BidRefused, match=message):
        outside.outside_bid_submit(bidder=bidder, terms=terms, message_id="m", via="a2a")
    bidder.refresh_from_db()
    assert bidder.pending_terms is None and not BidderMessage.objects.exists()
    assert not AuditEvent.objects.filter(kind="tender.bid_received").exists()


def test_a_bid_sent_with_a_credential_revoked_meanwhile_is_not_taken(template):
    """The door checked the credential; a revocation committed before the bid took
    the tender's lock: the bid is refused (NotAllowed) and nothing is kept. An
    expired one alike; a live one is taken."""
    tender, issued = _start(template, AGENT)
    bidder = _bidder(tender, "Quay Fasteners")
    checked = outside.bidder_credential_verify(
        secret=issued[0].secret, kind=BidderKind.REMOTE_AGENT
    )
    outside.bidder_credential_revoke(credential=checked)
    with pytest.raises(NotAllowed):
        outside.outside_bid_submit(
            bidder=bidder, terms=TERMS, message_id="m1", via="a2a", credential=checked
        )
    bidder.refresh_from_db()
    assert bidder.pending_terms is None and not BidderMessage.objects.exists()
    assert not AuditEvent.objects.filter(kind="tender.bid_received").exists()
    fresh = outside.bidder_credential_new(tender=tender, bidder_id=bidder.pk, base_url="")
    BidderCredential.objects.filter(pk=fresh.credential.pk).update(expires_at=timezone.now())
    with pytest.raises(NotAllowed):
        outside.outside_bid_submit(
            bidder=bidder, terms=TERMS, message_id="m2", via="a2a", credential=fresh.credential
        )
    live = outside.bidder_credential_new(tender=tender, bidder_id=bidder.pk, base_url="")
    taken = outside.outside_bid_submit(
        bidder=bidder, terms=TERMS, message_id="m3", via="a2a", credential=live.credential
    )
    assert taken.status == "received"


def test_a_bid_that_does_not_beat_the_best_by_the_decrement_is_refused(template):
    tender, _ = _start(template, AGENT)
    bidder = _bidder(tender, "Quay Fasteners")
    tender_run_round(tender_id=tender.pk, round_number=0)  # our bidders open
    tender.refresh_from_db()
    page = outside.bidder_page(_bidder(tender, "Quay Fasteners"))
    assert page.view.best_score is not None and page.open
    with pytest.raises(outside.BidRefused, match="does not beat the best score"):
        outside.outside_bid_submit(
            bidder=bidder, terms={**TERMS, "price": 199000}, message_id="x", via="portal"
        )


def test_no_bid_is_taken_after_the_sealed_bids_are_in_or_the_tender_ends(template):
    tender, _ = _start(template, AGENT, format="first_score")
    bidder = _bidder(tender, "Quay Fasteners")
    outside.outside_bid_submit(bidder=bidder, terms=TERMS, message_id="s1", via="a2a")
    # Sealed: it may change its bid until the bidding closes; the newest counts.
    outside.outside_bid_submit(
        bidder=bidder, terms={**TERMS, "price": 139000}, message_id="s2", via="a2a"
    )
    run_tender(tender)
    tender.refresh_from_db()
    assert TenderBid.objects.get(bidder=bidder).price == 139000
    with pytest.raises(outside.BiddingClosed):
        outside.outside_bid_submit(bidder=bidder, terms=TERMS, message_id="s3", via="a2a")


def test_when_every_outside_bidder_has_bid_the_round_is_not_kept_waiting(template, monkeypatch):
    sent = []
    monkeypatch.setattr(outside, "rounds_are_held", lambda: False)
    monkeypatch.setattr(outside, "task_enqueue_on_commit", lambda *a, **k: sent.append(a))
    tender, _ = _start(template, AGENT, PERSON)
    outside.outside_bid_submit(
        bidder=_bidder(tender, "Quay Fasteners"), terms=TERMS, message_id="a", via="a2a"
    )
    assert sent == []  # the person has not bid yet
    outside.outside_bid_submit(
        bidder=_bidder(tender, "Harbor Bolt Works"), terms=TERMS, message_id="b", via="portal"
    )
    assert sent == [(outside.TENDER_ROUND, tender.pk, 0)]


def test_what_an_outside_bidder_sees_holds_no_one_elses_private_data(template):
    tender, _ = _start(template, AGENT, feedback="rank_only")
    tender_run_round(tender_id=tender.pk, round_number=0)
    tender.refresh_from_db()
    bidder = _bidder(tender, "Quay Fasteners")
    outside.outside_bid_submit(bidder=bidder, terms=TERMS, message_id="p", via="a2a")
    tender_run_round(tender_id=tender.pk, round_number=1)
    page = outside.bidder_page(_bidder(tender, "Quay Fasteners"))
    assert page.view.rank is not None and page.view.best_score is None  # rank only
    shown = json.dumps(page.view.__dict__, default=str)
    secrets_ = [str(int(b["cost"])) for b in template.bidders] + ["150000"]  # costs, reserve
    secrets_ += [b["supplier"] for b in template.bidders]
    assert not [s for s in secrets_ if s in shown]


def test_the_sweeper_enqueues_an_overdue_round_again_and_only_that(template, monkeypatch):
    from tenders.services import sweeper

    sent = []
    monkeypatch.setattr(sweeper, "task_enqueue_on_commit", lambda *a, **k: sent.append(a))
    tender, _ = _start(template, AGENT)
    tender.refresh_from_db()
    window = timedelta(seconds=600)  # the default outside round time
    assert sweeper.tenders_sweep(now=tender.round_opened_at + window) == []
    late = tender.round_opened_at + window + timedelta(minutes=5)
    assert sweeper.tenders_sweep(now=late) == [tender.pk]
    assert sent == [(outside.TENDER_ROUND, tender.pk, 0)]


def test_an_outside_winner_negotiates_the_final_terms_from_its_own_seat(template, auto_route):
    from negotiator.models import SeatCredential
    from tenders.services.final import tender_final_negotiation_start

    tender, _ = _start(template, PERSON, format="first_score")
    outside.outside_bid_submit(
        bidder=_bidder(tender, "Harbor Bolt Works"),
        terms={"price": 95000, "delivery_days": 10, "warranty_months": 36},
        message_id="win",
        via="portal",
    )
    tender = run_tender(tender)
    assert (tender.status, tender.award_supplier) == (TenderStatus.AWARDED, "Harbor Bolt Works")
    negotiation, [issued] = tender_final_negotiation_start(
        tender=tender, base_url="https://buyer.test"
    )
    seat = negotiation.participants.get(role="supplier")
    assert (seat.seat, seat.invitee_email) == ("person", "ana@harbor.test")
    assert issued.link.startswith("https://buyer.test/portal/")
    assert SeatCredential.objects.filter(participant=seat).count() == 1
    assert mail.outbox[-1].to == ["ana@harbor.test"] and issued.link in mail.outbox[-1].body
