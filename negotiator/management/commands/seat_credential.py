"""Issue a token for an outside agent's seat and print it once."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from negotiator.models import Participant
from negotiator.services.errors import ServiceError
from negotiator.services.seats import seat_credential_issue


class Command(BaseCommand):
    help = (
        "Issue a bearer token for an outside agent's seat (A2A) and print it once: "
        "only its hash is stored, so it cannot be shown again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--negotiation", type=int, required=True, help="The negotiation's id.")
        parser.add_argument("--party", required=True, help="The seat's role, e.g. seller.")
        parser.add_argument(
            "--days", type=int, default=30, help="Days the token is valid (1-366, default 30)."
        )

    def handle(self, *args, **options) -> None:
        participant = Participant.objects.filter(
            negotiation_id=options["negotiation"], role=options["party"]
        ).first()
        if participant is None:
            raise CommandError(
                f"Negotiation {options['negotiation']} has no party '{options['party']}'."
            )
        if not 1 <= options["days"] <= 366:
            raise CommandError("--days must be between 1 and 366.")
        try:
            credential, secret = seat_credential_issue(
                participant=participant, valid_for=timedelta(days=options["days"])
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"Token for {participant.role} of negotiation {participant.negotiation_id} "
            f"(expires {credential.expires_at:%Y-%m-%d %H:%M} UTC). It is shown only now:"
        )
        self.stdout.write(secret)
