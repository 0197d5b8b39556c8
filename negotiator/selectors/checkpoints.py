"""Signed audit checkpoints as the verifiers read them: the newest one whose
signature verifies, the ones that do not, and one chain's extract (its head and
the Merkle inclusion proof) for auditors of a single negotiation.

Checkpoints live in AUDIT_CHECKPOINT_DIR, outside the database: one file per
checkpoint (``checkpoint-00000042.json``) and a copy of the newest as
``latest.json``. The newest valid one is found from the numbered files, so a
``latest.json`` put back to an older checkpoint does not hide a newer one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.utils import timezone

from negotiator.audit_key import checkpoint_key, signature_verify
from negotiator.audit_offline import (
    ChainReport,
    CheckpointCheck,
    chain_against_head,
    checkpoint_verify,
    head_leaf,
    inclusion_proof,
)
from negotiator.models import AuditEvent

LATEST = "latest.json"
_NAME = re.compile(r"^checkpoint-(\d{8,})\.json$")
# How many of the newest checkpoint files are read to find a valid one.
SCAN = 20

NO_KEY = (
    "No checkpoint key is configured: a deleted tail or a chain rewritten with "
    "recomputed hashes cannot be detected (set AUDIT_CHECKPOINT_KEY_FILE)."
)
NO_CHECKPOINT = (
    "No checkpoint: truncation cannot be detected. Run `manage.py audit_checkpoint` "
    "(Celery beat writes one every AUDIT_CHECKPOINT_EVERY_SECONDS)."
)


def checkpoint_file(directory: Path, number: int) -> Path:
    return directory / f"checkpoint-{number:08d}.json"


def checkpoint_numbers(directory: Path) -> list[int]:
    """The numbers of the checkpoint files, newest first."""
    try:
        names = [p.name for p in directory.iterdir()]
    except FileNotFoundError:
        return []
    return sorted((int(m.group(1)) for n in names if (m := _NAME.match(n))), reverse=True)


@dataclass(frozen=True)
class CheckpointStatus:
    key_configured: bool
    latest: CheckpointCheck | None = None
    document: dict[str, Any] | None = None
    # Checkpoints that do not verify: forged, altered, or signed by another key.
    problems: tuple[str, ...] = ()
    highest_number: int = 0

    @property
    def warning(self) -> str:
        if not self.key_configured:
            return NO_KEY
        return "" if self.latest else NO_CHECKPOINT

    @property
    def label(self) -> str:
        return self.latest.label() if self.latest else "no checkpoint"

    def head(self, chain: str) -> dict[str, Any] | None:
        return self.latest.heads.get(chain) if self.latest else None


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"unreadable": str(exc)}


def _check(document: Any, public: bytes, number: int | None) -> CheckpointCheck:
    check = checkpoint_verify(document, public, verify_signature=signature_verify)
    if number is not None and check.number != number:
        check.problems.append(f"its file is named #{number} but it says #{check.number}")
    return check


def checkpoint_status() -> CheckpointStatus:
    """The newest checkpoint whose signature verifies with the configured key,
    and the newer ones (and a latest.json) that do not."""
    key = checkpoint_key()
    if key is None:
        return CheckpointStatus(key_configured=False)
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    numbers = checkpoint_numbers(directory)
    best: tuple[CheckpointCheck, dict] | None = None
    problems = []
    for number in numbers[:SCAN]:
        document = _read(checkpoint_file(directory, number))
        check = _check(document, key.public, number)
        if check.valid:
            best = (check, document)
            break
        problems += [f"checkpoint #{number}: {p}" for p in check.problems]
    if (directory / LATEST).exists():
        document = _read(directory / LATEST)
        if best is None or document != best[1]:
            check = _check(document, key.public, None)
            if not check.valid:
                problems += [f"{LATEST}: {p}" for p in check.problems]
            elif best is None or check.number > best[0].number:
                best = (check, document)
    return CheckpointStatus(
        key_configured=True,
        latest=best[0] if best else None,
        document=best[1] if best else None,
        problems=tuple(problems),
        highest_number=max(numbers, default=0),
    )


def checkpoint_extract(status: CheckpointStatus, chain: str) -> dict[str, Any] | None:
    """The latest checkpoint cut down to one chain: its signed part, that chain's
    head and the proof that the head is one of the signed root's leaves. Another
    negotiation's heads are not shown to someone who may see only this one."""
    if status.document is None:
        return None
    heads = sorted(status.document["heads"], key=lambda h: h["chain"])
    index = next((i for i, h in enumerate(heads) if h["chain"] == chain), None)
    if index is None:
        return None
    leaves = [head_leaf(h) for h in heads]
    return {
        "format": status.document["format"],
        "signed": status.document["signed"],
        "signature": status.document["signature"],
        "heads": [heads[index]],
        "proof": {"index": index, "path": inclusion_proof(leaves, index)},
    }


def chain_heads() -> list[dict[str, Any]]:
    """Every chain's head now (name, last seq, last hash, event count), by name."""
    last = AuditEvent.objects.filter(chain=OuterRef("chain")).order_by("-seq")
    rows = (
        AuditEvent.objects.values("chain")
        .annotate(events=Count("id"), seq=Max("seq"), hash=Subquery(last.values("hash")[:1]))
        .order_by("chain")
    )
    return [
        {"chain": r["chain"], "seq": r["seq"], "hash": r["hash"], "events": r["events"]}
        for r in rows
    ]


def heads_compared(status: CheckpointStatus, *, batch: int = 500) -> list[str]:
    """Every chain the latest checkpoint recorded, compared with its head now:
    missing, shorter, or a different event at the checkpointed seq. A quick
    global look (a few queries); `verify_audit` recomputes every hash."""
    if status.latest is None:
        return []
    now = {h["chain"]: h for h in chain_heads()}
    recorded = sorted(status.latest.heads.items())
    problems, present = [], []
    for chain, head in recorded:
        current = now.get(chain)
        if current is None or current["seq"] < head["seq"]:
            report = ChainReport(
                chain,
                current["events"] if current else 0,
                True,
                last_seq=current["seq"] if current else 0,
            )
            problems.append(chain_against_head(report, head, status.label))
        else:
            present.append((chain, head))
    for start in range(0, len(present), batch):
        part = present[start : start + batch]
        match = Q()
        for chain, head in part:
            match |= Q(chain=chain, seq=head["seq"])
        hashes = {
            (c, s): h
            for c, s, h in AuditEvent.objects.filter(match).values_list("chain", "seq", "hash")
        }
        for chain, head in part:
            report = ChainReport(
                chain,
                now[chain]["events"],
                True,
                last_seq=now[chain]["seq"],
                hash_at=hashes.get((chain, head["seq"])),
            )
            problem = chain_against_head(report, head, status.label)
            if problem:
                problems.append(problem)
    return problems


def checkpoint_age_seconds(status: CheckpointStatus) -> float | None:
    if status.latest is None:
        return None
    created = datetime.fromisoformat(status.latest.created_at)
    return max(0.0, (timezone.now() - created).total_seconds())


def public_key_pem() -> str:
    """The public key auditors verify checkpoints with ("" without a key)."""
    key = checkpoint_key()
    return key.public_pem() if key else ""
