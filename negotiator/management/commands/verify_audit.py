from django.core.management.base import BaseCommand, CommandError

from negotiator.audit import audit_verify_all
from negotiator.models import Negotiation


class Command(BaseCommand):
    help = "Recompute the audit hash chains; name the first broken event and exit non-zero."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--negotiation", type=int, help="Verify only this negotiation's chain.")

    def handle(self, *args, **options) -> None:
        negotiation_id = options.get("negotiation")
        if (
            negotiation_id is not None
            and not Negotiation.objects.filter(pk=negotiation_id).exists()
        ):
            raise CommandError(f"No negotiation with id {negotiation_id}.")
        reports = audit_verify_all(negotiation_id)
        broken = [r for r in reports if not r.ok]
        for report in reports:
            if not report.ok or options["verbosity"] > 1:
                self.stdout.write(report.describe())
        total = sum(r.events for r in reports)
        if broken:
            raise CommandError(
                f"{len(broken)} of {len(reports)} chains are broken; first: {broken[0].describe()}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"{len(reports)} chains, {total} events: all verified.")
        )
