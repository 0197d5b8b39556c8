"""Audit trail costs: what tamper evidence adds to the hot path, and what
verification takes. No database needed.

    .venv/bin/python benchmarks/audit_bench.py [--events 20000]

Prints: audit_build per event without a key and with one (hash version 2 plus
the event's authentication code); verifying a chain per event; one checkpoint
signature check by the server (``cryptography``) and by the stdlib verifier
auditors run; the Merkle root and an inclusion proof over 10,000 chain heads.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "negotiator.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from negotiator import audit_offline as off  # noqa: E402
from negotiator.audit import AuditEntry, audit_build, event_record  # noqa: E402
from negotiator.audit_key import checkpoint_key, signature_verify  # noqa: E402


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    n = parser.parse_args().events
    entries = [
        AuditEntry(
            kind="offer.counter",
            actor="agent:seller",
            payload={
                "offer_id": i,
                "round": i // 2,
                "terms": {"price": 90_000 + i, "delivery": 14},
            },
        )
        for i in range(n)
    ]
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def build():
        return audit_build(
            entries, chain="negotiation:1", negotiation_id=1, head=None, created_at=now
        )

    settings.AUDIT_CHECKPOINT_KEY = ""
    plain = _best(build)
    settings.AUDIT_CHECKPOINT_KEY = base64.b64encode(os.urandom(32)).decode()
    keyed = _best(build)
    rows = build()
    records = [event_record(r) for r in rows]
    verify = _best(lambda: off.verify_events("negotiation:1", records))
    print(f"audit_build, no key:        {plain / n * 1e6:6.2f} µs per event")
    print(
        f"audit_build, with key:      {keyed / n * 1e6:6.2f} µs per event (+{(keyed - plain) / n * 1e6:.2f})"
    )
    print(f"verify_events:              {verify / n * 1e6:6.2f} µs per event")

    key = checkpoint_key()
    message = off.signing_message({"number": 1, "root": "0" * 64})
    signature = key.sign(message)
    fast = statistics.median(
        _best(lambda: signature_verify(key.public, message, signature), 1) for _ in range(50)
    )
    slow = statistics.median(
        _best(lambda: off.ed25519_verify(key.public, message, signature), 1) for _ in range(10)
    )
    print(f"signature check, server:    {fast * 1e3:6.2f} ms")
    print(f"signature check, stdlib:    {slow * 1e3:6.2f} ms")
    leaves = [
        off.head_leaf({"chain": f"negotiation:{i}", "seq": 40, "hash": "a" * 64, "events": 40})
        for i in range(10_000)
    ]
    root = _best(lambda: off.merkle_root(leaves), 3)
    proof = _best(lambda: off.inclusion_proof(leaves, 4321), 3)
    print(f"Merkle root, 10,000 heads:  {root * 1e3:6.1f} ms; inclusion proof {proof * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
