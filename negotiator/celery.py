"""Celery application, configured from Django settings (the CELERY_ namespace).

A worker that cannot use its database must not consume work: every message it
takes would fail (and, acknowledged late, be gone). So:

- at start (``worker_init``, before it connects to the broker) a worker checks
  that its database answers and has every migration applied; if not it logs an
  ERROR naming the problem and exits non-zero, leaving the queue untouched;
- before each task (``GuardedTask``) it checks the connection again; while the
  database is unreachable it logs an ERROR, waits a little longer each time and
  rejects the message back onto the queue instead of running it.
"""

import logging
import os
import time

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Reject
from celery.signals import task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")

log = logging.getLogger("negotiator.worker")

# Distinct exit codes (sysexits.h) so a supervisor's log tells the two apart.
EXIT_DATABASE_UNREACHABLE = 69  # EX_UNAVAILABLE
EXIT_DATABASE_NOT_MIGRATED = 78  # EX_CONFIG
REQUEUE_BACKOFF_MAX_SECONDS = 30.0


def database_where() -> str:
    """The database as an operator names it (name, host and port; never the password)."""
    from django.db import connection

    s = connection.settings_dict
    if s.get("HOST") or s.get("PORT"):
        return f"'{s.get('NAME')}' on {s.get('HOST') or 'localhost'}:{s.get('PORT') or 'default'}"
    return f"'{s.get('NAME')}'"


def database_problem() -> tuple[int, str] | None:
    """(exit code, what is wrong) when this process cannot work on its database."""
    from django.db import DatabaseError, InterfaceError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except (DatabaseError, InterfaceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            EXIT_DATABASE_UNREACHABLE,
            f"its database {database_where()} is unreachable: {type(exc).__name__}: {reason}",
        )
    finally:
        # Prefork children must not inherit this connection.
        connection.close()
    if plan:
        first = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:3])
        return (
            EXIT_DATABASE_NOT_MIGRATED,
            f"its database {database_where()} is not migrated: {len(plan)} unapplied "
            f"migration(s), first {first}; run `manage.py migrate` against it",
        )
    return None


class GuardedTask(DjangoTask):
    """Every task of this app: runs only when the database answers; otherwise its
    message goes back to the queue (not acknowledged, not lost)."""

    _failures = 0  # consecutive refusals in this process: the wait grows with them

    def __call__(self, *args, **kwargs):
        # Only messages from a broker: eager runs and direct calls raise as usual.
        if self.request.delivery_info and not self.request.is_eager:
            _requeue_unless_database_answers(self)
        return super().__call__(*args, **kwargs)


def _requeue_unless_database_answers(task: GuardedTask) -> None:
    from django.db import DatabaseError, InterfaceError, connection

    try:
        connection.ensure_connection()
    except (DatabaseError, InterfaceError) as exc:
        GuardedTask._failures += 1
        wait = min(2.0 ** (GuardedTask._failures - 1), REQUEUE_BACKOFF_MAX_SECONDS)
        log.error(
            "Worker's database %s is unreachable (%s): task %s[%s] goes back to the queue "
            "unrun; next attempt in %.0f s",
            database_where(),
            type(exc).__name__,
            task.name,
            task.request.id,
            wait,
        )
        # Waiting here, not in the broker, keeps this worker from taking the
        # message straight back in a tight loop while the database is down.
        time.sleep(wait)
        raise Reject(f"database unreachable: {type(exc).__name__}", requeue=True) from None
    GuardedTask._failures = 0


app = Celery("negotiator", task_cls=GuardedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_to_start_without_database(**kwargs) -> None:
    """Runs in the worker's main process after Django is set up and before it
    connects to the broker, so a refusal takes no message."""
    problem = database_problem()
    if problem is None:
        return
    code, reason = problem
    log.error("Worker refuses to start: %s. It took no task from the queue.", reason)
    # Celery logs and swallows exceptions from signal handlers; SystemExit is
    # not an Exception, so it ends the worker with this code.
    raise SystemExit(code)


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(**kwargs) -> None:
    """Drop connections that failed or outlived CONN_MAX_AGE, as Django does
    around each request (CELERY_DB_REUSE_MAX keeps the healthy ones)."""
    task = kwargs.get("task")
    if task is not None and task.request.is_eager:
        return
    from django.db import close_old_connections

    close_old_connections()
