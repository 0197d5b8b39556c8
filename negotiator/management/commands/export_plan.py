import json

from django.core.management.base import BaseCommand, CommandError

from negotiator.management.numbers import object_id
from negotiator.models import Negotiation
from negotiator.services.errors import ServiceError
from negotiator.services.plans import plan_export


class Command(BaseCommand):
    help = "Print an approved negotiation's final plan as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", type=object_id, help="The negotiation's id.")

    def handle(self, *args, **options) -> None:
        try:
            negotiation = Negotiation.objects.get(pk=options["id"])
        except Negotiation.DoesNotExist:
            raise CommandError(f"No negotiation with id {options['id']}.") from None
        try:
            plan = plan_export(negotiation=negotiation)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(plan, indent=2, ensure_ascii=False))
