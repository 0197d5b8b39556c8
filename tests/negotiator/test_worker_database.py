"""A worker that cannot use its database takes no work: real `celery worker`
subprocesses, Redis, PostgreSQL.

Pointed at an unreachable or an empty (unmigrated) database, a worker logs an
ERROR naming the problem and exits non-zero before it takes a message; the
round stays in the queue and a correctly configured worker runs it afterwards.
A worker whose database goes away while it runs puts each message back on the
queue (ERROR, not acknowledged) and runs it once the database is back.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from django.db import connection

from negotiator.celery import (
    EXIT_DATABASE_NOT_MIGRATED,
    EXIT_DATABASE_UNREACHABLE,
    app,
)
from negotiator.models import Negotiation, Offer
from negotiator.services.lifecycle import negotiation_create
from tests.conftest import BIN, REPO, celery_worker, wait_for
from tests.negotiator.conftest import load_playbook_document

pytestmark = pytest.mark.worker


def queued(queue: str = "celery") -> int:
    """Messages waiting in the broker queue (taken but unacknowledged ones do not count)."""
    with app.connection_for_read() as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
    return count


def worker_until_exit(tmp_path: Path, env: dict[str, str], timeout: float = 90) -> tuple[int, str]:
    """Run a worker that is expected to refuse to start; its exit code and log."""
    log_path = tmp_path / f"refusing-{uuid.uuid4().hex[:8]}.log"
    args = [
        str(BIN / "celery"),
        "-A",
        "negotiator",
        "worker",
        "--loglevel=INFO",
        "--pool=solo",
        f"--hostname=refusing-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    full_env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **env}
    with open(log_path, "wb") as log:
        proc = subprocess.run(
            args, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
        )
    return proc.returncode, log_path.read_text(errors="replace")


@pytest.fixture
def waiting_round(worker_env):
    """A negotiation whose first round waits in the queue (no worker is running)."""
    from negotiator.playbook_io import playbook_import

    playbook = playbook_import(load_playbook_document("procurement"))
    negotiation = negotiation_create(playbook=playbook, title="Queued", seed=4)
    assert queued() == 1
    return negotiation


def assert_untouched(negotiation: Negotiation) -> None:
    """The round is still in the queue and nothing ran."""
    assert queued() == 1
    assert not Offer.objects.filter(negotiation=negotiation).exists()
    negotiation.refresh_from_db()
    assert negotiation.current_round == 0


def assert_a_good_worker_runs_it(tmp_path: Path, worker_env, negotiation: Negotiation) -> None:
    with celery_worker(tmp_path, worker_env):
        wait_for(lambda: Offer.objects.filter(negotiation=negotiation).exists(), timeout=60)


def test_a_worker_with_an_unreachable_database_refuses_to_start(
    tmp_path, worker_env, waiting_round
):
    # Port 1 on loopback is closed.
    env = {**worker_env, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/negotiator_nowhere"}
    code, log = worker_until_exit(tmp_path, env)
    assert code == EXIT_DATABASE_UNREACHABLE, log[-3000:]
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert errors, log[-3000:]
    assert (
        "Worker refuses to start: its database 'negotiator_nowhere' on 127.0.0.1:1 "
        "is unreachable: OperationalError" in errors[0]
    )
    assert "It took no task from the queue." in errors[0]
    assert " ready." not in log
    assert_untouched(waiting_round)
    assert_a_good_worker_runs_it(tmp_path, worker_env, waiting_round)


@pytest.fixture
def empty_database(worker_env):
    """A PostgreSQL database that exists but was never migrated."""
    name = f"{connection.settings_dict['NAME']}_empty_{uuid.uuid4().hex[:6]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_worker_on_an_unmigrated_database_refuses_to_start(
    tmp_path, worker_env, waiting_round, empty_database
):
    url = worker_env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{empty_database}"
    code, log = worker_until_exit(tmp_path, {**worker_env, "DATABASE_URL": url})
    assert code == EXIT_DATABASE_NOT_MIGRATED, log[-3000:]
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert errors, log[-3000:]
    assert f"its database '{empty_database}' on" in errors[0]
    assert "is not migrated:" in errors[0] and "unapplied migration(s)" in errors[0]
    assert "run `manage.py migrate` against it" in errors[0]
    assert_untouched(waiting_round)
    assert_a_good_worker_runs_it(tmp_path, worker_env, waiting_round)


def _connections(allowed: bool) -> None:
    """Let new connections into this test's database, or refuse them and end the
    ones the worker holds (from the maintenance database: PostgreSQL will not
    refuse connections to the database one is connected to)."""
    import psycopg

    connection.ensure_connection()
    s = connection.settings_dict
    name = s["NAME"]
    with psycopg.connect(
        dbname="postgres",
        user=s.get("USER") or "postgres",
        password=s.get("PASSWORD") or None,
        host=s.get("HOST") or "127.0.0.1",
        port=s.get("PORT") or 5432,
        autocommit=True,
    ) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            # Every session on it but this test's own (pytest keeps one open).
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [name, connection.connection.info.backend_pid],
            )


def test_a_running_worker_puts_rounds_back_while_its_database_is_away(tmp_path, worker_env):
    from negotiator.models import WorkerHeartbeat
    from negotiator.playbook_io import playbook_import
    from negotiator.tasks import record_heartbeat

    playbook = playbook_import(load_playbook_document("procurement"))
    with celery_worker(tmp_path, worker_env) as worker:
        # The worker is connected (it keeps its connection between tasks).
        record_heartbeat.delay("before")
        wait_for(lambda: WorkerHeartbeat.objects.filter(token="before").exists())
        _connections(allowed=False)
        try:
            negotiation = negotiation_create(playbook=playbook, title="During outage", seed=4)
            refusals = "goes back to the queue unrun"
            wait_for(lambda: worker.log().count(refusals) >= 2, timeout=60)
            line = next(line for line in worker.log().splitlines() if refusals in line)
            assert " ERROR negotiator.worker " in line
            assert "is unreachable (OperationalError): task negotiator.tasks.run_round" in line
            assert not Offer.objects.filter(negotiation=negotiation).exists()
        finally:
            _connections(allowed=True)
        # Back: the same message runs (it was never acknowledged, so never lost).
        wait_for(lambda: Offer.objects.filter(negotiation=negotiation).exists(), timeout=60)
