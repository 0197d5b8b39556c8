# Tamper evidence that survives a database administrator: hash version and
# authentication code on audit events, and append-only triggers without a
# bypass switch.

import pgtrigger.migrations
from django.db import migrations, models

# pgtrigger's Protect triggers honour `SET pgtrigger.ignore = ...`, which any
# session may set, so the application's own role could lift them. These plain
# triggers have no such switch: only the table's owner (ALTER TABLE ... DISABLE
# TRIGGER) or a superuser (session_replication_role) gets past them, and the
# application should be neither (README, "Two database roles").
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION negotiator_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % is not allowed on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON negotiator_auditevent
    FOR EACH ROW EXECUTE FUNCTION negotiator_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON negotiator_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION negotiator_audit_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS audit_append_only ON negotiator_auditevent;
DROP TRIGGER IF EXISTS audit_no_truncate ON negotiator_auditevent;
DROP FUNCTION IF EXISTS negotiator_audit_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("negotiator", "0003_seats"),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="auditevent",
            name="audit_append_only",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="auditevent",
            name="audit_no_truncate",
        ),
        # Existing rows were hashed by version 1 and keep it.
        migrations.AddField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(
            _on_postgresql(APPEND_ONLY), _on_postgresql(DROP_APPEND_ONLY), elidable=False
        ),
    ]
