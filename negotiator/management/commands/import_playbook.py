import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from negotiator.playbook_io import PlaybookImportError, playbook_import


class Command(BaseCommand):
    help = "Import a playbook (issues, fixed terms, roles, policies) from a JSON document."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the playbook JSON document.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        try:
            playbook = playbook_import(document)
        except PlaybookImportError as exc:
            lines = "\n".join(f"  {p}: {m}" for p, m in exc.errors)
            raise CommandError(f"{path}: nothing was imported:\n{lines}") from None
        version = playbook.current_version
        self.stdout.write(
            self.style.SUCCESS(f"Imported '{playbook.name}' (version {version.number}).")
        )
