from django.core.management.base import BaseCommand

from negotiator.services.teams import negotiations_adopt_playbook_team


class Command(BaseCommand):
    help = (
        "Give every negotiation without a team its playbook's team (run once after "
        "giving playbooks their teams; negotiations that have a team keep it)."
    )

    def handle(self, *args, **options) -> None:
        changed = negotiations_adopt_playbook_team()
        self.stdout.write(f"{changed} negotiation(s) now belong to their playbook's team.")
