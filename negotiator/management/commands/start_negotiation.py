import time
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from negotiator.audit import audit_verify_chain, chain_of
from negotiator.management.numbers import MAX_BIGINT, finite_number, whole_number
from negotiator.models import FINAL_STATUSES, Negotiation, NegotiationStatus, Playbook
from negotiator.services.errors import ServiceError
from negotiator.services.lifecycle import LimitOverrides, negotiation_create

# A negotiation waiting for a person has stopped moving on its own.
SETTLED = FINAL_STATUSES | {NegotiationStatus.ESCALATED, NegotiationStatus.PENDING_APPROVAL}


class Command(BaseCommand):
    help = "Start negotiations of a playbook in the background (workers run the rounds)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--playbook", required=True, help="The playbook's name.")
        parser.add_argument(
            "--count", type=whole_number(1, 10_000), default=1, help="How many to start (1-10000)."
        )
        parser.add_argument(
            "--wait", action="store_true", help="Show progress until all settle, then a summary."
        )
        parser.add_argument(
            "--timeout",
            type=finite_number(1, 7 * 24 * 3600),
            default=600.0,
            help="Seconds to wait at most (1 to a week).",
        )
        parser.add_argument(
            "--pace",
            type=finite_number(0, settings.NEGOTIATOR_MAX_COUNTDOWN),
            help=f"Override the seconds between rounds (0-{settings.NEGOTIATOR_MAX_COUNTDOWN}).",
        )
        parser.add_argument(
            "--seed",
            type=whole_number(0, MAX_BIGINT),
            help="Seed of the first negotiation (+1 each; 0 to 2**63-1).",
        )

    def handle(self, *args, **options) -> None:
        count = options["count"]
        if not 1 <= count <= 10_000:
            raise CommandError("--count must be between 1 and 10000.", returncode=2)
        if options["seed"] is not None and options["seed"] + count - 1 > MAX_BIGINT:
            raise CommandError(
                f"--seed {options['seed']} + --count {count} goes past 2**63-1.", returncode=2
            )
        try:
            playbook = Playbook.objects.get(name=options["playbook"])
        except Playbook.DoesNotExist:
            names = ", ".join(Playbook.objects.values_list("name", flat=True)) or "none"
            raise CommandError(
                f"No playbook named {options['playbook']!r}. Known: {names}", returncode=2
            ) from None
        overrides = LimitOverrides(pace_seconds=options["pace"])
        ids = []
        for i in range(count):
            seed = options["seed"] + i if options["seed"] is not None else None
            try:
                negotiation = negotiation_create(playbook=playbook, overrides=overrides, seed=seed)
            except ServiceError as exc:
                raise CommandError(str(exc), returncode=2) from None
            ids.append(negotiation.pk)
        self.stdout.write(f"Started {count} negotiation(s): ids {ids[0]}..{ids[-1]}")
        if options["wait"]:
            self._wait(ids, options["timeout"])

    def _wait(self, ids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with tqdm(total=len(ids), desc="negotiations", unit="neg", file=self.stderr) as bar:
            done = 0
            while True:
                statuses = Negotiation.objects.filter(pk__in=ids).values_list("status", flat=True)
                settled = sum(1 for s in statuses if s in SETTLED)
                bar.update(settled - done)
                done = settled
                if done == len(ids):
                    break
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Timed out after {timeout:.0f}s: {len(ids) - done} still running. "
                        "Is a worker running (make run, or celery -A negotiator worker)?"
                    )
                time.sleep(0.5)
        outcomes = Counter(Negotiation.objects.filter(pk__in=ids).values_list("status", flat=True))
        broken = [i for i in ids if not audit_verify_chain(chain_of(i)).ok]
        self.stdout.write("Outcomes:")
        for status, n in outcomes.most_common():
            self.stdout.write(f"  {NegotiationStatus(status).label:<18} {n}")
        if broken:
            raise CommandError(f"Audit chains broken for negotiations {broken}")
        self.stdout.write(self.style.SUCCESS(f"All {len(ids)} audit chains verified."))
