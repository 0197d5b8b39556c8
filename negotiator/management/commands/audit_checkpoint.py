import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from negotiator.audit import chain_of
from negotiator.audit_key import checkpoint_key, key_generate
from negotiator.management.numbers import object_id
from negotiator.selectors.checkpoints import checkpoint_extract, checkpoint_status
from negotiator.services.checkpoints import checkpoint_write
from negotiator.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Write a signed checkpoint of every audit chain's head to AUDIT_CHECKPOINT_DIR "
        "(beat does this periodically). --latest exports the newest one instead, "
        "--negotiation ID cut down to that negotiation's chain with its inclusion proof."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--latest", action="store_true", help="Export, do not write.")
        parser.add_argument(
            "--negotiation", type=object_id, help="Export one negotiation's extract."
        )
        parser.add_argument("--output", help="Write the checkpoint (or extract) to this file.")
        parser.add_argument("--print", action="store_true", help="Print it as JSON.")
        parser.add_argument(
            "--generate-key", metavar="FILE", help="Create a new Ed25519 private key in FILE."
        )
        parser.add_argument(
            "--public-key", action="store_true", help="Print the configured public key (PEM)."
        )

    def handle(self, *args, **options) -> None:
        if options["generate_key"]:
            return self._generate(Path(options["generate_key"]))
        if options["public_key"]:
            key = checkpoint_key()
            if key is None:
                raise CommandError("No checkpoint key is configured (AUDIT_CHECKPOINT_KEY_FILE).")
            self.stdout.write(key.public_pem(), ending="")
            return None
        if options["latest"] or options["negotiation"] is not None:
            document = self._export(options["negotiation"])
        else:
            try:
                written = checkpoint_write()
            except ServiceError as exc:
                raise CommandError(str(exc)) from None
            document = written.document
            signed = document["signed"]
            self.stderr.write(
                f"Checkpoint #{written.number}: {signed['chains']} chains, "
                f"{signed['events']} events, root {signed['root'][:16]}…, written to {written.path}"
            )
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
        if options["print"]:
            self.stdout.write(text, ending="")
        return None

    def _export(self, negotiation_id: int | None) -> dict:
        status = checkpoint_status()
        if status.document is None:
            raise CommandError(
                status.warning or "No valid checkpoint: " + "; ".join(status.problems)
            )
        if negotiation_id is None:
            return status.document
        extract = checkpoint_extract(status, chain_of(negotiation_id))
        if extract is None:
            raise CommandError(
                f"{status.label} has no head for negotiation {negotiation_id} (newer than it?)."
            )
        return extract

    def _generate(self, path: Path) -> None:
        private_pem, public_pem = key_generate()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists; not overwriting a key.") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        self.stderr.write(
            f"Private key written to {path} (mode 600). Set AUDIT_CHECKPOINT_KEY_FILE={path} "
            "on every web and worker host; give auditors the public key below."
        )
        self.stdout.write(public_pem, ending="")
