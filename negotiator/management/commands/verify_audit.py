from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from negotiator.audit import chain_of
from negotiator.db_roles import audit_rows_changeable
from negotiator.management.numbers import object_id
from negotiator.models import Negotiation
from negotiator.selectors.audit_trail import trail_verify, trails_verify_all
from negotiator.selectors.checkpoints import checkpoint_status


class Command(BaseCommand):
    help = (
        "Verify the audit trail: recompute every hash chain, check each event's "
        "authentication code, compare the chains with the latest signed checkpoint and "
        "the negotiations' agreed terms, plans and offers with their events. Names every "
        "problem and exits non-zero."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--negotiation", type=object_id, help="Verify only this negotiation's chain."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Also fail when there is no checkpoint key or no checkpoint to compare with.",
        )

    def handle(self, *args, **options) -> None:
        negotiation_id = options.get("negotiation")
        if negotiation_id is not None:
            if not Negotiation.objects.filter(pk=negotiation_id).exists():
                raise CommandError(f"No negotiation with id {negotiation_id}.")
            status = checkpoint_status()
            trails = [trail_verify(chain_of(negotiation_id), status=status)]
        else:
            status, trails = trails_verify_all()
        warnings = [w for w in [status.warning, audit_rows_changeable(connection)] if w]
        for warning in warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))
        broken = [t for t in trails if not t.ok]
        for trail in trails:
            if not trail.ok:
                for problem in trail.problems:
                    self.stdout.write(f"{trail.chain}: {problem}")
            elif options["verbosity"] > 1:
                self.stdout.write(trail.describe())
        if broken:
            raise CommandError(
                f"{len(broken)} of {len(trails)} chains fail verification; "
                f"first: {broken[0].describe()}"
            )
        if options["strict"] and status.warning:
            raise CommandError(status.warning)
        total = sum(t.report.events for t in trails)
        checked = f" and match {status.label} ({status.latest.created_at})" if status.latest else ""
        self.stdout.write(
            self.style.SUCCESS(f"{len(trails)} chains, {total} events: all verified{checked}.")
        )
