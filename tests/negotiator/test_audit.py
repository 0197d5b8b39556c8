"""The audit trail: hash chains, append-only table, verification, concurrency."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from negotiator.audit import audit_append, audit_verify_chain, chain_of
from negotiator.models import AuditEvent


def _append(n: int, negotiation=None) -> None:
    for i in range(n):
        with transaction.atomic():
            audit_append(
                kind="test.event", actor="system", payload={"i": i}, negotiation=negotiation
            )


@pytest.mark.django_db
def test_events_chain_and_verify():
    _append(5)
    report = audit_verify_chain("global")
    assert report.ok and report.events == 5
    events = list(AuditEvent.objects.filter(chain="global").order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError):
        audit_append(kind="x", actor="system", payload={})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE negotiator_auditevent SET kind = 'forged'",
        "DELETE FROM negotiator_auditevent",
        "TRUNCATE negotiator_auditevent CASCADE",
    ],
)
def test_table_is_append_only_in_postgres(statement):
    _append(1)
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)
    assert AuditEvent.objects.filter(kind="test.event").count() == 1


@pytest.mark.django_db
def test_orm_update_and_delete_are_refused():
    _append(1)
    event = AuditEvent.objects.get()
    event.kind = "forged"
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        event.save()
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditEvent.objects.all().delete()


def _tamper(sql: str, params: list) -> None:
    """Alter a row behind the trigger's back, as an attacker with superuser rights could."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks before ALTER
        cursor.execute("ALTER TABLE negotiator_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE negotiator_auditevent ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_verify_audit_names_the_first_broken_event(procurement):
    from negotiator.services.lifecycle import negotiation_create
    from tests.negotiator.conftest import run_to_end

    negotiation = run_to_end(negotiation_create(playbook=procurement, seed=3))
    chain = chain_of(negotiation)
    events = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    assert len(events) > 4
    call_command("verify_audit", negotiation=negotiation.pk)  # clean before tampering

    victim = events[3]
    _tamper(
        "UPDATE negotiator_auditevent SET payload_json = %s WHERE id = %s",
        ['{"forged":true}', victim.pk],
    )
    report = audit_verify_chain(chain)
    assert not report.ok
    assert report.broken_seq == victim.seq
    with pytest.raises(CommandError, match=f"broken at event #{victim.seq}"):
        call_command("verify_audit", negotiation=negotiation.pk)
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit")


@pytest.mark.django_db
def test_deleting_an_event_is_detected(procurement):
    from negotiator.services.lifecycle import negotiation_create
    from tests.negotiator.conftest import run_to_end

    negotiation = run_to_end(negotiation_create(playbook=procurement, seed=4))
    chain = chain_of(negotiation)
    events = list(AuditEvent.objects.filter(chain=chain).order_by("seq"))
    _tamper("DELETE FROM negotiator_auditevent WHERE id = %s", [events[2].pk])
    report = audit_verify_chain(chain)
    assert not report.ok and report.broken_seq == events[3].seq


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_cannot_fork_a_chain():
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer() -> None:
        try:
            barrier.wait()
            _append(10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit_verify_chain("global")
    assert report.ok and report.events == 40
