"""manage.py redteam --playbook NAME [--runs N] [--seed S] [--tender-playbook NAME]:
play a tender playbook against adversarial bidders and counterparts and report
what it lets through (tenders.services.redteam)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from negotiator.services.errors import ServiceError
from tenders.models import TenderPlaybook
from tenders.services.redteam import RUNNERS, redteam_run


class Command(BaseCommand):
    help = (
        "Red-team a tender playbook: adversaries "
        + ", ".join(RUNNERS)
        + " (or all). Reports price paid vs the competitive benchmark, detection and "
        "false-alarm rates, policy breaches and leaked private values (both must be 0)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--playbook", required=True, help="adversary: " + ", ".join(RUNNERS) + ", all"
        )
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--tender-playbook",
            default="",
            help="name of the tender playbook to attack (default: the only one, or the shipped one)",
        )

    def handle(self, *args, **options) -> None:
        template = _template(options["tender_playbook"])
        if not 0 <= options["seed"] < 2**63:
            raise CommandError("--seed must be a whole number from 0 to 2**63-1")
        try:
            reports = redteam_run(
                template=template,
                playbook=options["playbook"],
                runs=options["runs"],
                seed=options["seed"],
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Red team of '{template.playbook.name}' (seed {options['seed']}):")
        for report in reports:
            for line in report.lines():
                self.stdout.write(line)
        breaches = sum(r.breaches for r in reports)
        leaks = sum(r.leaks for r in reports)
        self.stdout.write(f"TOTAL policy breaches: {breaches}; leaked private values: {leaks}")
        if breaches or leaks:
            raise CommandError("the playbook let a breach or a leak through", returncode=1)


def _template(name: str) -> TenderPlaybook:
    templates = TenderPlaybook.objects.select_related("playbook__current_version")
    if name:
        found = templates.filter(playbook__name=name).first()
        if found is None:
            known = ", ".join(t.playbook.name for t in templates) or "none imported"
            raise CommandError(f"no tender playbook named {name!r} (known: {known})")
        return found
    found = list(templates[:2])
    if len(found) != 1:
        raise CommandError(
            "name the tender playbook with --tender-playbook"
            if found
            else "no tender playbook imported; run the demo loader or import playbooks/tender.json"
        )
    return found[0]
