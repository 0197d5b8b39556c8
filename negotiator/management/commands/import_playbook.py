from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from negotiator.playbook_io import (
    MAX_DOCUMENT_BYTES,
    PlaybookImportError,
    document_read,
    playbook_import,
)


class Command(BaseCommand):
    help = (
        "Import a playbook (issues, fixed terms, roles, policies) from a JSON document "
        f"(UTF-8, at most {MAX_DOCUMENT_BYTES:,} bytes). All or nothing: any problem is "
        "reported with its path in the document, nothing is changed, and the exit status is 2."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the playbook JSON document.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            playbook = playbook_import(document_read(path))
        except PlaybookImportError as exc:
            # One line per problem, each naming the file and the path in the document.
            lines = [f"{path}: {where}: {message}" for where, message in exc.errors]
            lines.append("Nothing was imported.")
            raise CommandError("\n".join(lines), returncode=2) from None
        version = playbook.current_version
        self.stdout.write(
            self.style.SUCCESS(f"Imported '{playbook.name}' (version {version.number}).")
        )
