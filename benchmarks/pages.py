"""Server time of the dashboard pages on PostgreSQL.

Seeds its own database (default `negotiator_bench_pages`) once with 10,000
negotiations (two parties and two offers each) and one negotiation of 1,000
offers with their policy checks, then times requests in-process with
django.test.Client and prints p50/p95 per page:

- the list page (default, a status filter, a search),
- the negotiation page of the 1,000-offer negotiation,
- the timeline poll: nothing new (the common case) and 10 new offers,
- the audit page (plain and filtered), the offer comparison and the CSV export.

Targets: list and negotiation pages p95 < 150 ms, poll p95 < 30 ms.

Usage (PostgreSQL must be up):

    .venv/bin/python benchmarks/pages.py [--requests 200] [--reseed] [--as-member]

With --as-member the pages are timed as a member of one of two teams that share
the negotiations half and half (the team filter is in every query), instead of
as a superuser.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "negotiator_bench_pages")
NEGOTIATIONS = 10_000
LONG_OFFERS = 1_000
TARGETS_MS = {"list": 150, "negotiation": 150, "poll": 30}


def ensure_database(reseed: bool) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")
    # Production-like: no per-query debug log, no debug toolbar of any kind.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # No collectstatic here: plain static URLs instead of the hashed manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    call_command("migrate", verbosity=0)


def seed() -> int:
    """Seed once; returns the id of the long negotiation."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from negotiator.models import (
        Negotiation,
        NegotiationStatus,
        Offer,
        Participant,
        PolicyCheck,
    )
    from negotiator.playbook_io import playbook_import
    from negotiator.services.lifecycle import negotiation_create
    from negotiator.services.roles import roles_ensure
    from negotiator.services.rounds import negotiation_run_round

    marker = Negotiation.objects.filter(title="bench: long negotiation").first()
    if marker is not None and Negotiation.objects.count() >= NEGOTIATIONS:
        return marker.pk

    started = time.perf_counter()
    get_user_model().objects.filter(
        username="bench"
    ).exists() or get_user_model().objects.create_superuser("bench", "", "bench")
    roles_ensure()
    document = json.loads((REPO / "playbooks" / "procurement.json").read_text())
    playbook = playbook_import(document)

    from negotiator.services.scheduling import rounds_held

    held = rounds_held()  # play rounds here, never via a broker
    held.__enter__()
    template = negotiation_create(playbook=playbook, title="bench: long negotiation", seed=7)
    for _ in range(200):
        template.refresh_from_db()
        if not negotiation_run_round(
            negotiation_id=template.pk, round_number=template.current_round
        ):
            break
    template.refresh_from_db()
    offers = list(Offer.objects.filter(negotiation=template).order_by("id"))
    checks = list(PolicyCheck.objects.filter(offer=offers[0]))
    participants = list(Participant.objects.filter(negotiation=template))

    with transaction.atomic():
        # Grow the template's timeline to LONG_OFFERS offers (each with its checks).
        round_number = max(o.round for o in offers) + 1
        extra = []
        while len(offers) + len(extra) < LONG_OFFERS:
            source = offers[len(extra) % len(offers)]
            extra.append(
                Offer(
                    negotiation=template,
                    round=round_number,
                    sender=source.sender,
                    performative="counter",
                    terms=source.terms,
                    fixed_terms_hash=source.fixed_terms_hash,
                    engine_id=f"bench-{round_number}",
                    utilities=source.utilities,
                    rationale=source.rationale,
                )
            )
            round_number += 1
        created = Offer.objects.bulk_create(extra, batch_size=1000)
        PolicyCheck.objects.bulk_create(
            [
                PolicyCheck(
                    negotiation=template,
                    offer=o,
                    policy_version_id=c.policy_version_id,
                    round=o.round,
                    sender=o.sender,
                    stage=c.stage,
                    terms=c.terms,
                    passed=c.passed,
                    severity=c.severity,
                    message=c.message,
                    evidence=c.evidence,
                )
                for o in created
                for c in checks
            ],
            batch_size=2000,
        )
        Negotiation.objects.filter(pk=template.pk).update(
            status=NegotiationStatus.RUNNING,
            max_rounds=round_number + 10,
            current_round=round_number,
        )

        # Ten thousand more negotiations, spread over the statuses.
        statuses = [s for s, _ in NegotiationStatus.choices if s != NegotiationStatus.DRAFT]
        now = timezone.now()
        rows = [
            Negotiation(
                playbook=playbook,
                playbook_version=template.playbook_version,
                title=f"bench {i}",
                status=statuses[i % len(statuses)],
                current_round=i % 40,
                max_rounds=40,
                seed=i,
                started_at=now,
                deadline=now + timezone.timedelta(hours=2),
            )
            for i in range(NEGOTIATIONS - Negotiation.objects.count())
        ]
        made = Negotiation.objects.bulk_create(rows, batch_size=2000)
        Participant.objects.bulk_create(
            [
                Participant(
                    negotiation=n,
                    role=p.role,
                    label=p.label,
                    strategy=p.strategy,
                    profile=p.profile,
                    owner_group_id=p.owner_group_id,
                    order=p.order,
                )
                for n in made
                for p in participants
            ],
            batch_size=4000,
        )
        Offer.objects.bulk_create(
            [
                Offer(
                    negotiation=n,
                    round=k,
                    sender=o.sender,
                    performative=o.performative,
                    terms=o.terms,
                    fixed_terms_hash=o.fixed_terms_hash,
                    engine_id=f"bench-{n.pk}-{k}",
                    utilities=o.utilities,
                )
                for n in made
                for k, o in enumerate(offers[:2])
            ],
            batch_size=4000,
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return template.pk


def member_of_half_the_negotiations(long_id: int):
    """A user (no superuser) in one of two teams that own half the negotiations each."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models.functions import Mod

    from negotiator.models import Negotiation

    mine = Group.objects.get_or_create(name="Bench team")[0]
    other = Group.objects.get_or_create(name="Bench other team")[0]
    unassigned = Negotiation.objects.filter(team=None).annotate(parity=Mod("id", 2))
    if unassigned.exists():
        unassigned.filter(parity=0).update(team=mine)
        Negotiation.objects.filter(team=None).update(team=other)
        Negotiation.objects.filter(pk=long_id).update(team=mine)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE negotiator_negotiation")
    user = get_user_model().objects.get_or_create(username="bench-member")[0]
    user.groups.add(mine)
    return user


def timed(client, url: str, n: int, headers: dict | None = None, expect=(200,)) -> list[float]:
    for _ in range(5):  # warm up
        client.get(url, headers=headers or {})
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers or {})
        if response.streaming:
            b"".join(response.streaming_content)
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code not in expect:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--as-member", action="store_true", help="as a team member, not admin")
    args = parser.parse_args()
    ensure_database(args.reseed)
    setup_django()
    long_id = seed()

    from django.contrib.auth import get_user_model
    from django.test import Client

    from negotiator.models import Negotiation, Offer

    client = Client()
    if args.as_member:
        client.force_login(member_of_half_the_negotiations(long_id))
    else:
        client.force_login(get_user_model().objects.get(username="bench"))
    negotiation = Negotiation.objects.get(pk=long_id)
    ids = list(
        Offer.objects.filter(negotiation_id=long_id).order_by("id").values_list("id", flat=True)
    )
    htmx = {"HX-Request": "true"}
    poll_idle = (
        f"/negotiations/{long_id}/timeline?after={ids[-1]}"
        f"&round={negotiation.current_round}&status={negotiation.status}"
    )
    poll_round = (
        f"/negotiations/{long_id}/timeline?after={ids[-3]}"
        f"&round={negotiation.current_round - 1}&status={negotiation.status}"
    )
    poll_catch_up = (
        f"/negotiations/{long_id}/timeline?after={ids[-11]}"
        f"&round={negotiation.current_round - 5}&status={negotiation.status}"
    )
    cases = [
        ("list", "list: /negotiations/", "/negotiations/", None, (200,)),
        ("list", "list: ?status=running", "/negotiations/?status=running", None, (200,)),
        (
            "list",
            "list: ?q=Supplier&sort=round",
            "/negotiations/?q=Supplier&sort=round",
            None,
            (200,),
        ),
        ("list", "list: page 200", "/negotiations/?page=200", None, (200,)),
        (
            "list",
            "list rows (htmx poll)",
            "/negotiations/?status=running",
            {**htmx, "HX-Target": "negotiation-rows"},
            (200,),
        ),
        (
            "negotiation",
            "negotiation page (1,000 offers)",
            f"/negotiations/{long_id}/",
            None,
            (200,),
        ),
        (
            "negotiation",
            "audit page (1,000 offers)",
            f"/negotiations/{long_id}/audit/",
            None,
            (200,),
        ),
        (
            "negotiation",
            "audit page, ?kind=offer.counter&round=40",
            f"/negotiations/{long_id}/audit/?kind=offer.counter&round=40",
            None,
            (200,),
        ),
        ("negotiation", "compare two offers", f"/negotiations/{long_id}/compare/", None, (200,)),
        (None, "list as CSV, ?status=agreed", "/negotiations.csv?status=agreed", None, (200,)),
        ("poll", "timeline poll, nothing new", poll_idle, htmx, (204,)),
        ("poll", "timeline poll, one new round (2 offers)", poll_round, htmx, (200,)),
        # A tab that was hidden for a while catches up in one poll: informational.
        (None, "timeline poll, catch-up (10 offers)", poll_catch_up, htmx, (200,)),
    ]
    print(
        f"{Negotiation.objects.count():,} negotiations; negotiation #{long_id} has "
        f"{len(ids):,} offers; {args.requests} requests each, in-process (django.test.Client)\n"
    )
    print(f"{'page':<40} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}  ok")
    failed = False
    for kind, label, url, headers, expect in cases:
        samples = timed(client, url, args.requests, headers, expect)
        p50, p95 = statistics.median(samples), pct(samples, 0.95)
        if kind is None:
            print(f"{label:<40} {p50:>8.1f} {p95:>8.1f} {'—':>8}")
            continue
        target = TARGETS_MS[kind]
        ok = p95 < target
        failed |= not ok
        print(f"{label:<40} {p50:>8.1f} {p95:>8.1f} {target:>8}  {'yes' if ok else 'NO'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
