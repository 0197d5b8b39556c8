"""The two-role database setup (README, "Two database roles"): the application's
role negotiates as usual and appends audit events, but no session setting lets
it update, delete or truncate them; `migrate` with DATABASE_MIGRATE_URL runs as
the owner and grants the application's role exactly that."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from negotiator.audit import chain_of
from negotiator.db_roles import app_role_grant, audit_rows_changeable
from negotiator.models import AuditEvent, Negotiation, NegotiationStatus
from negotiator.selectors.audit_trail import trail_verify
from negotiator.services.lifecycle import negotiation_create
from tests.conftest import REPO, celery_worker, wait_for

PASSWORD = "app-role-test"


def _conninfo(settings_dict: dict, *, user: str, dbname: str | None = None) -> dict:
    return {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
        "dbname": dbname or settings_dict["NAME"],
        "user": user,
        "password": PASSWORD,
    }


def _url(info: dict) -> str:
    return f"postgres://{info['user']}:{PASSWORD}@{info['host']}:{info['port']}/{info['dbname']}"


@contextmanager
def _role(name: str):
    """A login role for this test only (roles are shared by the whole cluster)."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s', [PASSWORD])
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{name}"')
            cursor.execute(f'DROP ROLE "{name}"')


ATTEMPTS = [
    "UPDATE negotiator_auditevent SET kind = 'forged'",
    "DELETE FROM negotiator_auditevent",
    "TRUNCATE negotiator_auditevent CASCADE",
    "ALTER TABLE negotiator_auditevent DISABLE TRIGGER USER",
    "SET session_replication_role = replica",
]


@pytest.mark.worker
def test_the_app_role_appends_but_cannot_rewrite_audit_events(worker_env, tmp_path, procurement):
    with _role(f"negotiator_app_{uuid.uuid4().hex[:8]}") as role:
        app_role_grant(connection, role)  # as the owner would after migrating
        info = _conninfo(connection.settings_dict, user=role)
        # A whole negotiation, played by a worker connected as the app role.
        with celery_worker(tmp_path, {**worker_env, "DATABASE_URL": _url(info)}):
            negotiation = negotiation_create(playbook=procurement, seed=3)
            # Settled: ended, or waiting for a person (nothing is approved by default).
            wait_for(
                lambda: (
                    Negotiation.objects.get(pk=negotiation.pk).status
                    not in (NegotiationStatus.DRAFT, NegotiationStatus.RUNNING)
                ),
                timeout=90,
            )
        events = AuditEvent.objects.filter(chain=chain_of(negotiation)).count()
        assert events > 5
        assert trail_verify(chain_of(negotiation)).ok

        with psycopg.connect(**info, autocommit=True) as app:
            for statement in ATTEMPTS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege), app.transaction():
                    # pgtrigger's bypass switch, which its own triggers honoured
                    app.execute(
                        "SET LOCAL pgtrigger.ignore = "
                        "'{negotiator_auditevent:pgtrigger_audit_append_only_fba8a}'"
                    )
                    app.execute(statement)
            assert app.execute(
                "SELECT has_table_privilege('negotiator_auditevent', 'INSERT')"
            ).fetchone() == (True,)
        assert AuditEvent.objects.filter(chain=chain_of(negotiation)).count() == events
        assert not AuditEvent.objects.filter(kind="forged").exists()
        assert audit_rows_changeable(connection) == "the application connects as a superuser"


@pytest.mark.django_db
def test_superusers_are_stopped_by_the_triggers_unless_they_switch_them_off(procurement):
    """No pgtrigger.ignore: the plain triggers refuse even the table's owner."""
    from django.db import transaction
    from django.db.utils import ProgrammingError

    assert AuditEvent.objects.exists()
    with (
        pytest.raises(ProgrammingError, match="append-only: UPDATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL pgtrigger.ignore = '{negotiator_auditevent:audit_append_only}'")
        cursor.execute("UPDATE negotiator_auditevent SET kind = 'forged'")


def test_migrate_runs_as_the_owner_and_grants_the_app_role(django_db_blocker, tmp_path):
    """The README's setup, end to end, on a database of its own."""
    suffix = uuid.uuid4().hex[:8]
    owner, app_role, dbname = f"neg_owner_{suffix}", f"neg_app_{suffix}", f"neg_roles_{suffix}"
    with django_db_blocker.unblock():
        settings_dict = connection.settings_dict
        admin = _conninfo(settings_dict, user=settings_dict.get("USER") or "postgres")
        admin.update(dbname="postgres", password=settings_dict.get("PASSWORD") or None)
        with psycopg.connect(**admin, autocommit=True) as su:
            su.execute(f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{PASSWORD}'")
            su.execute(f"CREATE ROLE \"{app_role}\" LOGIN PASSWORD '{PASSWORD}'")
            su.execute(f'CREATE DATABASE "{dbname}" OWNER "{owner}"')
        try:
            owner_info = _conninfo(settings_dict, user=owner, dbname=dbname)
            app_info = _conninfo(settings_dict, user=app_role, dbname=dbname)
            env = {
                **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}},
                "DATABASE_URL": _url(app_info),
                "DATABASE_MIGRATE_URL": _url(owner_info),
                "NEGOTIATOR_VAR_DIR": str(tmp_path / "var"),
            }
            result = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert f"Granted role '{app_role}'" in result.stdout
            with psycopg.connect(**app_info) as app:
                privileges = app.execute(
                    "SELECT has_table_privilege('negotiator_auditevent', 'INSERT'), "
                    "has_table_privilege('negotiator_auditevent', 'UPDATE, DELETE, TRUNCATE'), "
                    "has_table_privilege('negotiator_offer', 'UPDATE'), "
                    "pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'negotiator_auditevent'"
                ).fetchone()
            assert privileges == (True, False, True, owner)
            check = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import django; django.setup(); from django.db import connection; "
                    "from negotiator.db_roles import audit_rows_changeable; "
                    "print(repr(audit_rows_changeable(connection)))",
                ],
                cwd=REPO,
                env={**env, "DJANGO_SETTINGS_MODULE": "negotiator.settings"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert check.stdout.strip() == "''", check.stderr
        finally:
            with psycopg.connect(**admin, autocommit=True) as su:
                su.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
                su.execute(f'DROP ROLE IF EXISTS "{app_role}"')
                su.execute(f'DROP ROLE IF EXISTS "{owner}"')
