"""Create the demo users (and, once present, demo data). Safe to run repeatedly."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from demo.loader import demo_load
from negotiator.services.roles import roles_ensure

DEMO_USERS = [
    # username, password, superuser, groups, e-mail (example.com never delivers;
    # the console mail backend prints the notices)
    ("admin", "negotiator-admin", True, [], "admin@example.com"),
    # Approvers, and a member of the teams whose deals it approves, so it sees
    # those negotiations too (the demo playbooks belong to these teams).
    (
        "approver",
        "negotiator-approver",
        False,
        ["Approvers", "Procurement", "Marketing", "Logistics"],
        "approver@example.com",
    ),
]


class Command(BaseCommand):
    help = "Create the demo users and load demo data (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-data", action="store_true", help="Only create the roles and demo users."
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the demo users' passwords back to the documented ones (development "
            "only: refused when DEBUG is off).",
        )

    def handle(self, *args, **options) -> None:
        reset = options["reset_passwords"]
        if reset and not settings.DEBUG:
            raise CommandError("--reset-passwords is for development only (DEBUG is off).")
        with transaction.atomic():
            roles_ensure()
            for row in DEMO_USERS:
                self.stdout.write(self._demo_user(*row, reset=reset))
        if not options["no_data"]:
            summary = demo_load()
            if summary:
                self.stdout.write(f"  demo data: {summary}")

    def _demo_user(
        self, username: str, password: str, superuser: bool, groups, email: str, *, reset: bool
    ) -> str:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": superuser, "is_superuser": superuser}
        )
        if not user.email:
            user.email = email
        if created or reset:
            user.set_password(password)
        user.save()
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        if created or reset or user.check_password(password):
            state = f"password {password}"
        else:
            state = "password changed by someone; not shown"
        return f"  user {username:<9} {state}"
