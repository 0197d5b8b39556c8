import json

from django.core.management.base import BaseCommand, CommandError

from negotiator.models import Playbook
from negotiator.playbook_io import playbook_export


class Command(BaseCommand):
    help = "Print a playbook with its issues, roles and policies as one JSON document."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The playbook's name.")

    def handle(self, *args, **options) -> None:
        try:
            playbook = Playbook.objects.get(name=options["name"])
        except Playbook.DoesNotExist:
            names = ", ".join(Playbook.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No playbook named {options['name']!r}. Known: {names}") from None
        self.stdout.write(json.dumps(playbook_export(playbook), indent=2, ensure_ascii=False))
