"""Two database roles, so the application cannot rewrite its own audit trail.

The owner role (DATABASE_MIGRATE_URL) owns the tables and runs migrations. The
application's role (DATABASE_URL) reads and writes rows, but may only INSERT
and SELECT audit events: no UPDATE, DELETE or TRUNCATE privilege, and, not being
the owner, no ALTER TABLE to switch the append-only triggers off. No session
setting (pgtrigger.ignore, session_replication_role, which needs a superuser)
gives those back.
"""

from __future__ import annotations

AUDIT_TABLE = "negotiator_auditevent"


def app_role_grant_statements(role: str, *, quote) -> list[str]:
    """What the owner grants the application's role after every migration (new
    tables need their grants too). ``quote`` quotes an identifier."""
    name = quote(role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {name}",
        f"REVOKE UPDATE, DELETE ON {AUDIT_TABLE} FROM {name}",
    ]


def app_role_grant(connection, role: str) -> None:
    with connection.cursor() as cursor:
        for statement in app_role_grant_statements(role, quote=connection.ops.quote_name):
            cursor.execute(statement)


def audit_rows_changeable(connection) -> str:
    """Why the connected role could change audit events ("" when it cannot)."""
    if connection.vendor != "postgresql":
        return "the database is not PostgreSQL: audit events are append-only by convention only"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper, pg_get_userbyid(c.relowner) = current_user, "
            "has_table_privilege(current_user, %s, 'UPDATE, DELETE, TRUNCATE') "
            "FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = %s::regclass",
            [AUDIT_TABLE, AUDIT_TABLE],
        )
        superuser, owner, privileged = cursor.fetchone()
    if superuser:
        return "the application connects as a superuser"
    if owner:
        return "the application connects as the owner of the audit table"
    if privileged:
        return "the application's role may update, delete or truncate audit events"
    return ""
