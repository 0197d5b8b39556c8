"""Record later facts against an agreed plan and re-check its assumptions.

    python manage.py plan_fact --negotiation 12 --fact creative_delivered_week.video=6

Each ``--fact NAME=NUMBER`` is stored on the negotiation; every assumption the facts
break is flagged on the negotiation page and as ``plan.assumption_broken`` in its
audit trail. Prints each assumption with its status.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from negotiator.models import Negotiation
from negotiator.services.certificates import plan_fact_record
from negotiator.services.errors import ServiceError


def _fact(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise CommandError(
            f"--fact {text!r}: write NAME=NUMBER, e.g. creative_delivered_week.video=6"
        )
    try:
        number = float(value)
    except ValueError:
        raise CommandError(f"--fact {text!r}: {value!r} is not a number") from None
    return name.strip(), int(number) if number.is_integer() else number


class Command(BaseCommand):
    help = "Record facts against an agreed plan and re-check its assumptions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--negotiation", type=int, required=True, help="negotiation id")
        parser.add_argument("--fact", action="append", required=True, help="NAME=NUMBER")

    def handle(self, *args: Any, **options: Any) -> None:
        facts = dict(_fact(text) for text in options["fact"])
        negotiation = Negotiation.objects.filter(pk=options["negotiation"]).first()
        if negotiation is None:
            raise CommandError(f"--negotiation {options['negotiation']}: no such negotiation")
        try:
            checked = plan_fact_record(negotiation=negotiation, facts=facts)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        for item in checked:
            self.stdout.write(f"{item['status']:<7} {item['text']}")
