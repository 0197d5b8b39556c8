"""Outside seats at the service level: a negotiation waits for an outside party's
move, plays it through the same round pipeline as ours (claimed, checked,
audited), answers with our built-in seat at once, and keeps the seat to its turn
deadline. Credentials are scoped, expiring, revocable and stored as hashes."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.models import (
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    Participant,
    SeatCredential,
    SeatKind,
    SeatMessage,
)
from negotiator.services import seats, sweeper
from negotiator.services.errors import NotAllowed, ServiceError
from negotiator.services.lifecycle import negotiation_create
from negotiator.services.rounds import negotiation_run_round
from negotiator.services.seats import MoveInput, MoveInvalid, OutOfTurn

pytestmark = pytest.mark.django_db


def outside_negotiation(procurement, seat=SeatKind.REMOTE_AGENT, **kwargs):
    negotiation = negotiation_create(playbook=procurement, seed=3, seats={"seller": seat}, **kwargs)
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    negotiation.refresh_from_db()
    return negotiation


def seller(negotiation) -> Participant:
    return negotiation.participants.get(role="seller")


def counter(negotiation, **terms) -> MoveInput:
    spec = negotiation.playbook_version.spec
    base = {"price": 110_000, "delivery_days": 10, "warranty_months": 12}
    from negotiator.engine.outcomes import fixed_terms_hash

    return MoveInput(
        performative="counter",
        terms={**base, **terms},
        fixed_terms_hash=fixed_terms_hash(spec.get("fixed_terms", {})),
        rationale="Our best price for this volume.",
    )


def test_a_negotiation_waits_for_its_outside_seat_with_a_deadline(procurement):
    negotiation = outside_negotiation(procurement)
    assert negotiation.status == NegotiationStatus.RUNNING
    assert negotiation.waiting_for == "seller"
    assert negotiation.turn_due_at - negotiation.turn_started_at == timedelta(minutes=60)
    # our buyer opened; nothing was computed for the outside seller
    assert list(Offer.objects.filter(negotiation=negotiation).values_list("sender", flat=True)) == [
        "buyer"
    ]
    assert seller(negotiation).strategy == ""
    assert AuditEvent.objects.filter(
        chain=chain_of(negotiation), kind="negotiation.turn_started"
    ).exists()
    # a late round task changes nothing: the round is the seat's to play
    assert not negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)


def test_an_outside_move_is_played_and_our_seat_answers_at_once(procurement):
    negotiation = outside_negotiation(procurement)
    result = seats.seat_move_submit(
        participant=seller(negotiation), move=counter(negotiation), message_id="m-1"
    )
    negotiation.refresh_from_db()
    offers = list(Offer.objects.filter(negotiation=negotiation).order_by("id"))
    assert [(o.sender, o.performative) for o in offers] == [
        ("buyer", "propose"),
        ("seller", "counter"),
        ("buyer", "counter"),
    ]
    assert offers[1].terms == {"price": 110_000, "delivery_days": 10, "warranty_months": 12}
    assert offers[1].in_reply_to_id == offers[0].pk
    assert result.offer_ids == (offers[1].pk, offers[2].pk)
    assert result.waiting_for == "seller" and negotiation.waiting_for == "seller"
    # the seller's offer went through our policy gate and into the audit chain
    assert offers[1].checks.exists()
    actors = set(
        AuditEvent.objects.filter(chain=chain_of(negotiation), kind="offer.counter").values_list(
            "actor", flat=True
        )
    )
    assert actors == {"remote_agent:seller", "agent:buyer"}
    assert audit_verify_chain(chain_of(negotiation)).ok


def test_a_replayed_message_gets_the_same_answer_and_changes_nothing(procurement):
    negotiation = outside_negotiation(procurement)
    first = seats.seat_move_submit(
        participant=seller(negotiation), move=counter(negotiation), message_id="m-1"
    )
    counts = (Offer.objects.count(), AuditEvent.objects.count(), SeatMessage.objects.count())
    again = seats.seat_move_submit(
        participant=seller(negotiation), move=counter(negotiation, price=1), message_id="m-1"
    )
    assert again.replayed and again.offer_ids == first.offer_ids
    assert (
        Offer.objects.count(),
        AuditEvent.objects.count(),
        SeatMessage.objects.count(),
    ) == counts


@pytest.mark.parametrize(
    ("move", "problem"),
    [
        (lambda n: counter(n, price=1), "price"),
        (lambda n: counter(n, colour="red"), "unknown issue 'colour'"),
        (
            lambda n: MoveInput(**{**counter(n).__dict__, "fixed_terms_hash": "0" * 64}),
            "fixed terms",
        ),
        (lambda n: MoveInput(**{**counter(n).__dict__, "performative": "shout"}), "performative"),
        (lambda n: MoveInput(**{**counter(n).__dict__, "in_reply_to": 999_999}), "in_reply_to"),
        (lambda n: MoveInput(**{**counter(n).__dict__, "rationale": "x" * 3000}), "longer than"),
    ],
)
def test_a_malformed_move_gets_a_precise_error_and_changes_nothing(procurement, move, problem):
    negotiation = outside_negotiation(procurement)
    counts = (Offer.objects.count(), AuditEvent.objects.count(), SeatMessage.objects.count())
    with pytest.raises(MoveInvalid, match=problem):
        seats.seat_move_submit(
            participant=seller(negotiation), move=move(negotiation), message_id="m"
        )
    assert (
        Offer.objects.count(),
        AuditEvent.objects.count(),
        SeatMessage.objects.count(),
    ) == counts
    negotiation.refresh_from_db()
    assert negotiation.waiting_for == "seller"


def test_a_move_out_of_turn_is_refused(procurement):
    negotiation = negotiation_create(playbook=procurement, seed=3, seats={"seller": "person"})
    # the buyer has not opened yet: it is not the seller's turn
    with pytest.raises(OutOfTurn, match="not your turn"):
        seats.seat_move_submit(
            participant=seller(negotiation), move=counter(negotiation), message_id="m"
        )


def test_a_seat_kind_the_playbook_does_not_allow_is_refused(procurement):
    with pytest.raises(ServiceError, match="Role 'buyer' cannot be"):
        negotiation_create(playbook=procurement, seats={"buyer": SeatKind.PERSON})


def test_credentials_are_hashed_scoped_expiring_and_revocable(procurement):
    negotiation = outside_negotiation(procurement)
    credential, secret = seats.seat_credential_issue(participant=seller(negotiation))
    assert secret not in str(SeatCredential.objects.values_list().get(pk=credential.pk))
    assert seats.seat_credential_verify(secret=secret).pk == credential.pk
    with pytest.raises(NotAllowed):
        seats.seat_credential_verify(secret=secret, kind="invite")
    with pytest.raises(NotAllowed):
        seats.seat_credential_verify(secret=secret + "x")
    seats.seat_credential_revoke(credential=credential)
    with pytest.raises(NotAllowed):
        seats.seat_credential_verify(secret=secret)
    expired, old = seats.seat_credential_issue(participant=seller(negotiation))
    SeatCredential.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    with pytest.raises(NotAllowed):
        seats.seat_credential_verify(secret=old)
    with pytest.raises(ServiceError, match="needs no credential"):
        seats.seat_credential_issue(participant=negotiation.participants.get(role="buyer"))


def test_a_missed_turn_is_reminded_then_escalated(procurement):
    negotiation = outside_negotiation(procurement)
    started = negotiation.turn_started_at
    assert sweeper.seat_turns_sweep(now=started + timedelta(minutes=30))["reminded"] == []
    assert sweeper.seat_turns_sweep(now=started + timedelta(minutes=46))["reminded"] == [
        negotiation.pk
    ]
    assert sweeper.seat_turns_sweep(now=started + timedelta(minutes=50))["reminded"] == []
    done = sweeper.seat_turns_sweep(now=started + timedelta(minutes=61))
    assert done["escalated"] == [negotiation.pk]
    negotiation.refresh_from_db()
    assert negotiation.status == NegotiationStatus.ESCALATED
    assert negotiation.waiting_for == ""
    assert "seller did not move within its turn of 60 minutes" in negotiation.outcome_reason
    with pytest.raises(OutOfTurn):
        seats.seat_move_submit(
            participant=seller(negotiation), move=counter(negotiation), message_id="late"
        )


def test_a_playbook_can_end_a_missed_turn_as_timed_out(procurement):
    procurement.on_turn_timeout = "end"
    procurement.save()
    from negotiator.services.playbooks import playbook_publish

    playbook_publish(playbook=procurement)
    procurement.refresh_from_db()
    negotiation = outside_negotiation(procurement)
    done = sweeper.seat_turns_sweep(now=negotiation.turn_due_at + timedelta(seconds=1))
    assert done["timed_out"] == [negotiation.pk]
    assert Negotiation.objects.get(pk=negotiation.pk).status == NegotiationStatus.TIMED_OUT


def test_the_stuck_round_sweeper_leaves_waiting_negotiations_alone(procurement):
    negotiation = outside_negotiation(procurement)
    Negotiation.objects.filter(pk=negotiation.pk).update(
        last_progress_at=timezone.now() - timedelta(hours=1)
    )
    assert sweeper.negotiations_sweep(stale_after_seconds=60) == []


def test_a_credential_revoked_after_the_door_checked_it_plays_no_move(procurement):
    """The door verifies the credential, then the move waits for the negotiation's
    lock; a revocation that committed in between wins: the move is refused (as for
    a bad credential) and nothing changes, not even the use count."""
    negotiation = outside_negotiation(procurement)
    credential, secret = seats.seat_credential_issue(participant=seller(negotiation))
    checked = seats.seat_credential_verify(secret=secret)
    seats.seat_credential_revoke(credential=credential)
    counts = (Offer.objects.count(), AuditEvent.objects.count(), SeatMessage.objects.count())
    use = seats.CredentialUse(checked, "203.0.113.7", "SendMessage m-1")
    with pytest.raises(NotAllowed):
        seats.seat_move_submit(
            participant=seller(negotiation), move=counter(negotiation), message_id="m-1", use=use
        )
    with pytest.raises(NotAllowed):  # a person's link: the credential without a use
        seats.seat_move_submit(
            participant=seller(negotiation),
            move=counter(negotiation),
            message_id="m-2",
            credential=checked,
        )
    assert not use.recorded
    assert (
        Offer.objects.count(),
        AuditEvent.objects.count(),
        SeatMessage.objects.count(),
    ) == counts
    assert SeatCredential.objects.get(pk=credential.pk).uses == 0
    negotiation.refresh_from_db()
    assert negotiation.waiting_for == "seller"
    # an expired one alike; a live one plays
    live, live_secret = seats.seat_credential_issue(participant=seller(negotiation))
    SeatCredential.objects.filter(pk=live.pk).update(expires_at=timezone.now())
    with pytest.raises(NotAllowed):
        seats.seat_move_submit(
            participant=seller(negotiation),
            move=counter(negotiation),
            message_id="m-3",
            credential=live,
        )
    fresh, fresh_secret = seats.seat_credential_issue(participant=seller(negotiation))
    result = seats.seat_move_submit(
        participant=seller(negotiation),
        move=counter(negotiation),
        message_id="m-4",
        use=seats.CredentialUse(fresh, "203.0.113.7", "SendMessage m-4"),
    )
    assert len(result.offer_ids) == 2
    assert SeatCredential.objects.get(pk=fresh.pk).uses == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_revocation_that_commits_while_the_move_waits_for_the_lock_wins(procurement):
    """The real interleaving: the move waits on the negotiation's row while a
    revocation holds it; once the revocation commits, the move sees it."""
    negotiation = outside_negotiation(procurement)
    credential, secret = seats.seat_credential_issue(participant=seller(negotiation))
    checked = seats.seat_credential_verify(secret=secret)
    outcome: list[str] = []

    def move():
        try:
            seats.seat_move_submit(
                participant=seller(negotiation),
                move=counter(negotiation),
                message_id="m-1",
                use=seats.CredentialUse(checked, "203.0.113.7", "SendMessage m-1"),
            )
            outcome.append("played")
        except NotAllowed:
            outcome.append("refused")
        except Exception as exc:
            outcome.append(repr(exc))
        finally:
            connections.close_all()

    with transaction.atomic():
        seats.negotiation_lock(negotiation.pk)  # what the revocation takes first
        mover = threading.Thread(target=move)
        mover.start()
        _wait_until_blocked_on_a_lock()
        seats.seat_credential_revoke(credential=credential)
    mover.join(timeout=60)
    assert outcome == ["refused"]
    assert not Offer.objects.filter(negotiation=negotiation, sender="seller").exists()


def _wait_until_blocked_on_a_lock(timeout: float = 20.0) -> None:
    """Until another backend of this database waits for a lock (the move's claim)."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            # in a transaction the activity view is a snapshot taken once: renew it
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return

            time.sleep(0.02)
    raise AssertionError("the move never waited for the negotiation's lock")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_move_plainly_out_of_turn_is_refused_without_waiting_for_the_round(procurement):
    """While a round holds the negotiation's lock, a move that is plainly not due
    is refused at once instead of queueing behind it."""
    negotiation = outside_negotiation(procurement)
    seats.seat_move_submit(
        participant=seller(negotiation), move=counter(negotiation), message_id="m-1"
    )
    Negotiation.objects.filter(pk=negotiation.pk).update(waiting_for="buyer")
    outcome: list[str] = []

    def move():
        try:
            seats.seat_move_submit(
                participant=seller(negotiation), move=counter(negotiation), message_id="m-2"
            )
            outcome.append("played")
        except OutOfTurn as exc:
            outcome.append(str(exc))
        except Exception as exc:
            outcome.append(repr(exc))
        finally:
            connections.close_all()

    with transaction.atomic():
        seats.negotiation_lock(negotiation.pk)  # a round in progress
        mover = threading.Thread(target=move)
        mover.start()
        mover.join(timeout=20)
        answered_while_locked = not mover.is_alive()
    mover.join(timeout=20)
    assert answered_while_locked
    assert outcome == ["It is not your turn: the negotiation waits for buyer."]
    # a replay of a played message is still answered, whatever the turn
    again = seats.seat_move_submit(
        participant=seller(negotiation), move=counter(negotiation), message_id="m-1"
    )
    assert again.replayed
