"""Create the demo users (and, once present, demo data). Safe to run repeatedly."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from demo.loader import demo_load
from negotiator.services.roles import roles_ensure

DEMO_USERS = [
    # username, password, superuser, groups
    ("admin", "negotiator-admin", True, []),
    # Approvers, and a member of the teams whose deals it approves, so it sees
    # those negotiations too (the demo playbooks belong to these teams).
    ("approver", "negotiator-approver", False, ["Approvers", "Procurement", "Marketing"]),
]


class Command(BaseCommand):
    help = "Create the demo users and load demo data (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-data", action="store_true", help="Only create the roles and demo users."
        )

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            roles_ensure()
            User = get_user_model()
            for username, password, is_superuser, groups in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"is_staff": is_superuser, "is_superuser": is_superuser},
                )
                if created:
                    user.set_password(password)
                    user.save()
                for name in groups:
                    user.groups.add(Group.objects.get_or_create(name=name)[0])
                state = "created" if created else "exists"
                self.stdout.write(f"  user {username:<9} password {password:<20} ({state})")
        if not options["no_data"]:
            summary = demo_load()
            if summary:
                self.stdout.write(f"  demo data: {summary}")
