"""Point an outside agent seat at the supplier's own A2A agent."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from negotiator.a2a.outbound import seat_agent_connect
from negotiator.models import Participant
from negotiator.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Have our side call the supplier's A2A agent at its seat's turns (instead of "
        "waiting for the agent to call us)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--negotiation", type=int, required=True, help="The negotiation's id.")
        parser.add_argument("--party", required=True, help="The seat's role, e.g. seller.")
        parser.add_argument("--url", required=True, help="The agent's base URL (http or https).")

    def handle(self, *args, **options) -> None:
        participant = Participant.objects.filter(
            negotiation_id=options["negotiation"], role=options["party"]
        ).first()
        if participant is None:
            raise CommandError(
                f"Negotiation {options['negotiation']} has no party '{options['party']}'."
            )
        try:
            seat_agent_connect(participant=participant, url=options["url"])
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{participant.role} is played by the agent at {options['url']}.")
