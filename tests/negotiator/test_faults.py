"""Fault tests with a real worker subprocess, Redis and PostgreSQL."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.models import (
    FINAL_STATUSES,
    AuditEvent,
    Negotiation,
    NegotiationStatus,
    Offer,
    PolicyCheck,
)
from negotiator.services.lifecycle import LimitOverrides, negotiation_create, negotiation_start
from negotiator.services.rounds import negotiation_run_round
from negotiator.services.sweeper import negotiations_sweep
from tests.conftest import celery_worker, wait_for
from tests.negotiator.conftest import run_to_end

pytestmark = pytest.mark.worker

SETTLED = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}


def assert_rounds_intact(negotiation: Negotiation) -> None:
    """Every round from 0 to the last has offers; none is duplicated; chain verifies."""
    rounds = sorted(
        set(Offer.objects.filter(negotiation=negotiation).values_list("round", flat=True))
    )
    assert rounds == list(range(len(rounds))), rounds
    pairs = list(Offer.objects.filter(negotiation=negotiation).values_list("round", "sender"))
    assert len(pairs) == len(set(pairs))
    assert len(negotiation.engine_state["history"]) == len(pairs)
    offer_events = AuditEvent.objects.filter(
        chain=chain_of(negotiation), kind__startswith="offer."
    ).exclude(kind="offer.blocked")
    assert offer_events.count() == len(pairs)
    report = audit_verify_chain(chain_of(negotiation))
    assert report.ok, report.describe()


def test_killed_worker_loses_no_round(procurement, worker_env, tmp_path):
    negotiations = [
        negotiation_create(
            playbook=procurement, seed=100 + i, overrides=LimitOverrides(pace_seconds=0.3)
        )
        for i in range(8)
    ]
    ids = [n.pk for n in negotiations]
    with celery_worker(tmp_path, worker_env, pool="prefork", concurrency=2) as worker:
        wait_for(lambda: Offer.objects.filter(negotiation_id__in=ids).count() >= 10, timeout=60)
        worker.kill(signal.SIGKILL)  # no warm shutdown: messages in flight are lost
    assert Negotiation.objects.filter(pk__in=ids, status=NegotiationStatus.RUNNING).exists()

    with celery_worker(tmp_path, worker_env, pool="prefork", concurrency=2):
        # What beat does every 30 s in production, here with a short threshold.
        def settled() -> bool:
            negotiations_sweep(stale_after_seconds=1.0)
            return not Negotiation.objects.filter(pk__in=ids).exclude(status__in=SETTLED).exists()

        wait_for(settled, timeout=180, interval=1.0)
    for negotiation in Negotiation.objects.filter(pk__in=ids):
        assert negotiation.status in SETTLED
        assert_rounds_intact(negotiation)


def test_a_round_delivered_twice_runs_once(procurement, worker_env, tmp_path):
    from negotiator.tasks import run_round

    negotiation = negotiation_create(playbook=procurement, seed=7, start=False)
    negotiation_start(negotiation=negotiation)
    negotiation.refresh_from_db()
    # The start already enqueued round 0; deliver it twice more by hand.
    with celery_worker(tmp_path, worker_env, pool="prefork", concurrency=2):
        run_round.delay(negotiation.pk, 0)
        run_round.delay(negotiation.pk, 0)
        wait_for(lambda: Negotiation.objects.get(pk=negotiation.pk).status in SETTLED, timeout=120)
        time.sleep(1.0)  # let stray duplicates finish
    negotiation.refresh_from_db()
    assert_rounds_intact(negotiation)


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_of_one_round_leave_the_rows_of_one_run(procurement):
    negotiation = negotiation_create(playbook=procurement, seed=11, start=False)
    negotiation_start(negotiation=negotiation)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            results.append(negotiation_run_round(negotiation_id=negotiation.pk, round_number=0))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    negotiation.refresh_from_db()
    assert negotiation.current_round == 1
    assert_rounds_intact(negotiation)


@pytest.mark.django_db(transaction=True)
def test_losing_the_database_connection_mid_round_leaves_no_partial_writes(
    procurement, monkeypatch
):
    from negotiator import round_store
    from negotiator.tasks import run_round

    negotiation = negotiation_create(playbook=procurement, seed=5, start=False)
    negotiation_start(negotiation=negotiation)
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=0)
    before = {
        "offers": Offer.objects.count(),
        "checks": PolicyCheck.objects.count(),
        "events": AuditEvent.objects.count(),
    }

    real_write = round_store.round_write
    calls = {"n": 0}

    def write_then_lose_connection(*args, **kwargs):
        # The round has sent its offers, checks, audit events and new state;
        # before it commits, the server drops the connection.
        real_write(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            pid = connection.connection.info.backend_pid
            with (
                connections["default"]
                .__class__(connections["default"].settings_dict, alias="killer")
                .cursor() as killer
            ):
                killer.execute("SELECT pg_terminate_backend(%s)", [pid])

    monkeypatch.setattr(round_store, "round_write", write_then_lose_connection)
    with pytest.raises(OperationalError):
        negotiation_run_round(negotiation_id=negotiation.pk, round_number=1)
    monkeypatch.setattr(round_store, "round_write", real_write)
    connection.close()  # what Celery's Django fixup does before the retry runs

    assert Offer.objects.count() == before["offers"]
    assert PolicyCheck.objects.count() == before["checks"]
    assert AuditEvent.objects.count() == before["events"]
    negotiation.refresh_from_db()
    assert negotiation.current_round == 1

    # The task retries on connection errors; the retry runs the round cleanly.
    assert OperationalError in run_round.autoretry_for
    assert negotiation_run_round(negotiation_id=negotiation.pk, round_number=1)
    negotiation = run_to_end(negotiation)
    assert_rounds_intact(negotiation)


def test_start_negotiation_command_runs_twenty_through_the_worker(worker_env, tmp_path):
    """The procurement playbook shipped in the repo, imported, then 20 negotiations
    started from the command line and waited for: every one settles, every chain verifies."""
    import io

    from django.core.management import call_command

    from tests.conftest import REPO

    call_command("import_playbook", str(REPO / "playbooks" / "procurement.json"))
    out = io.StringIO()
    with celery_worker(tmp_path, worker_env, pool="prefork", concurrency=2):
        call_command(
            "start_negotiation",
            playbook="Procurement: industrial components",
            count=20,
            wait=True,
            timeout=240,
            stdout=out,
            stderr=io.StringIO(),
        )
    text = out.getvalue()
    assert "Started 20 negotiation(s)" in text
    assert "All 20 audit chains verified." in text
    negotiations = Negotiation.objects.all()
    assert negotiations.count() == 20
    for negotiation in negotiations:
        assert negotiation.status in SETTLED
        assert_rounds_intact(negotiation)
