"""Telling an invited person it is their turn: by mail, without any secret in it
(the invite mail was the only one with the link), reminded once before the turn
deadline, through a real Celery worker."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import override_settings

from negotiator.models import AuditEvent
from negotiator.services import seats, sweeper
from tests.conftest import celery_worker, wait_for
from tests.portal.conftest import counter_data, open_seat

pytestmark = pytest.mark.django_db


def move(seat, client) -> None:
    html = client.get(seat.url).content.decode()
    assert client.post(seat.url, counter_data(html, price=118_000)).status_code == 302


def notices(seat):
    return AuditEvent.objects.filter(
        negotiation=seat.negotiation, kind="seat.turn_notice_mailed"
    ).order_by("seq")


def test_the_first_turn_has_no_notice_the_invite_said_it(seat):
    assert [m.subject for m in mail.outbox] == ["Invitation to negotiate: Q3 parts"]
    assert seats.seat_turn_notify(negotiation_id=seat.negotiation.pk, party="seller")
    assert len(mail.outbox) == 1 and not notices(seat).exists()


def test_a_later_turn_is_mailed_without_a_link_that_opens_anything(seat, client):
    move(seat, client)
    mail.outbox.clear()
    assert seats.seat_turn_notify(negotiation_id=seat.negotiation.pk, party="seller")
    [notice] = mail.outbox
    assert notice.to == ["sam@globex.example"] and notice.subject == "Your turn: Q3 parts"
    due = seat.refresh().turn_due_at
    assert f"{due:%d %b %Y, %H:%M}" in notice.body
    assert "Open the invitation link we e-mailed you" in notice.body
    assert seat.secret not in notice.body and not re.search(r"ni_[\w-]{10,}", notice.body)
    assert [e.payload for e in notices(seat)] == [{"party": "seller", "reminder": False}]
    # Started by no one in particular: replies would reach no one, so none are asked for.
    assert notice.reply_to == [] and "Ask the person who invited you." in notice.body


@override_settings(NEGOTIATOR_BASE_URL="https://negotiator.example.com")
def test_a_reminder_points_to_the_help_page_when_the_address_is_known(seat):
    mail.outbox.clear()
    assert seats.seat_turn_notify(negotiation_id=seat.negotiation.pk, party="seller", reminder=True)
    [notice] = mail.outbox
    assert notice.subject == "Reminder: your turn: Q3 parts"
    assert "still waits for your answer" in notice.body
    assert "https://negotiator.example.com/portal/ explains more." in notice.body


def test_no_notice_once_the_turn_is_over(seat, client):
    move(seat, client)
    mail.outbox.clear()
    assert not seats.seat_turn_notify(negotiation_id=seat.negotiation.pk, party="buyer")
    assert mail.outbox == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_mails_the_turn_notice_and_the_reminder(
    procurement, worker_env, tmp_path, client
):
    seat = open_seat(procurement)
    with celery_worker(tmp_path, worker_env) as worker:
        move(seat, client)  # our buyer answers; the seat's turn notice is enqueued
        wait_for(lambda: notices(seat).count() == 1, timeout=60)
        negotiation = seat.refresh()
        started, due = negotiation.turn_started_at, negotiation.turn_due_at
        assert sweeper.seat_turns_sweep(now=started + (due - started) * 0.8)["reminded"] == [
            negotiation.pk
        ]
        wait_for(lambda: notices(seat).count() == 2, timeout=60)
        log = worker.log()
    assert [e.payload["reminder"] for e in notices(seat)] == [False, True]
    assert "Subject: Your turn: Q3 parts" in log  # the console backend printed it
    assert "Subject: Reminder: your turn: Q3 parts" in log
    assert seat.secret not in log
