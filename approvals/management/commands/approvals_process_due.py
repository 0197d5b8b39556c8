"""Run the approvals' periodic job once (what beat runs every minute): expire
overdue requests as their routes say, send reminders and missing notices."""

from django.core.management.base import BaseCommand

from approvals.services.expiry import approvals_process_due


class Command(BaseCommand):
    help = "Expire overdue approval requests, send reminders and notices (once)."

    def handle(self, *args, **options) -> None:
        done = approvals_process_due()
        summary = ", ".join(f"{len(ids)} {what}" for what, ids in done.items())
        self.stdout.write(f"Approvals: {summary}.")
