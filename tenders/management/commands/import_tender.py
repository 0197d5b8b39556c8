from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from negotiator.playbook_io import MAX_DOCUMENT_BYTES, PlaybookImportError, document_read
from negotiator.services.errors import ServiceError
from tenders.services.setup import tender_playbook_import


class Command(BaseCommand):
    help = (
        "Import a tender file (docs/tenders.md): its playbook of pattern auction, the "
        "tender settings, the default bidders and the suppliers (UTF-8 JSON, at most "
        f"{MAX_DOCUMENT_BYTES:,} bytes). All or nothing: a problem is reported, nothing "
        "is changed, and the exit status is 2. Importing again updates it in place."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the tender JSON file.")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            template = tender_playbook_import(document_read(path))
        except PlaybookImportError as exc:
            lines = [f"{path}: {where}: {message}" for where, message in exc.errors]
            raise CommandError("\n".join([*lines, "Nothing was imported."]), returncode=2) from None
        except ServiceError as exc:
            raise CommandError(f"{path}: {exc}\nNothing was imported.", returncode=2) from None
        playbook = template.playbook
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported tender playbook '{playbook.name}' "
                f"(version {playbook.current_version.number}, {len(template.bidders)} bidders)."
            )
        )
