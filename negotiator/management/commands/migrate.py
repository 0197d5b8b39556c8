"""`migrate`, run as the owner role when DATABASE_MIGRATE_URL is set, followed by
the application role's grants (negotiator/db_roles.py; README, "Two database
roles"). Without DATABASE_MIGRATE_URL it is Django's migrate, unchanged."""

from __future__ import annotations

import dj_database_url
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

from negotiator.db_roles import app_role_grant

_CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


class Command(DjangoMigrate):
    help = (
        DjangoMigrate.help
        + " With DATABASE_MIGRATE_URL set, runs as that (owner) role, then grants "
        "DATABASE_URL's role what the application needs (never UPDATE or DELETE on "
        "audit events)."
    )

    def handle(self, *args, **options):
        url = getattr(settings, "DATABASE_MIGRATE_URL", "")
        if not url or options["database"] != "default":
            return super().handle(*args, **options)
        connection = connections["default"]
        owner = dj_database_url.parse(url)
        app_role = connection.settings_dict["USER"]
        if owner["NAME"] != connection.settings_dict["NAME"]:
            raise CommandError(
                "DATABASE_MIGRATE_URL and DATABASE_URL must name the same database "
                f"({owner['NAME']!r} != {connection.settings_dict['NAME']!r})."
            )
        if owner["USER"] == app_role:
            raise CommandError(
                "DATABASE_MIGRATE_URL and DATABASE_URL use the same role; the point is two."
            )
        saved = {k: connection.settings_dict.get(k) for k in _CONNECTION_KEYS}
        connection.close()
        connection.settings_dict.update({k: owner.get(k) for k in _CONNECTION_KEYS})
        try:
            super().handle(*args, **options)
            app_role_grant(connection, app_role)
            self.stdout.write(f"Granted role {app_role!r} the application's privileges.")
        finally:
            connection.close()
            connection.settings_dict.update(saved)
