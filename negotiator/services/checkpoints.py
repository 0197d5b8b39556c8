"""Writing signed audit checkpoints: every chain's head (name, last seq, last
hash, event count), a Merkle root over those heads, a time and an increasing
number, signed with the Ed25519 key that lives outside the database
(negotiator/audit_key.py), written to AUDIT_CHECKPOINT_DIR.

A checkpoint vouches for what it records, so it is written only when the
database still agrees with the previous one (no chain shorter, missing or
rewritten, every event since then hashed correctly and carrying its
authentication code). The first checkpoint adopts the chains as they are, as a
client of a transparency log trusts the first signed head it sees; verify them
first (`manage.py verify_audit`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from negotiator.audit import event_record
from negotiator.audit_key import CheckpointKey, checkpoint_key
from negotiator.audit_offline import (
    CHECKPOINT_FORMAT,
    chain_against_head,
    checkpoint_digest,
    head_leaf,
    merkle_root,
    signing_message,
    verify_events,
)
from negotiator.models import AuditEvent
from negotiator.selectors.audit_trail import mac_faults, read_snapshot
from negotiator.selectors.checkpoints import (
    LATEST,
    CheckpointStatus,
    chain_heads,
    checkpoint_file,
    checkpoint_status,
)
from negotiator.services.errors import Conflict, ServiceError

log = logging.getLogger(__name__)

BATCH = 200  # chains read per query when verifying what changed


@dataclass(frozen=True)
class CheckpointWritten:
    number: int
    path: Path
    document: dict[str, Any]


def _changes_verify(
    heads: list[dict[str, Any]], status: CheckpointStatus, key: CheckpointKey
) -> list[str]:
    """What stands against vouching for ``heads``: chains that disagree with the
    previous checkpoint, and changed chains that do not verify."""
    previous = status.latest.heads if status.latest else {}
    label = status.label
    current = {h["chain"] for h in heads}
    problems = [
        f"{chain} is missing: {label} recorded {head['events']} events"
        for chain, head in sorted(previous.items())
        if chain not in current
    ]
    changed = [h["chain"] for h in heads if previous.get(h["chain"]) != h]
    for start in range(0, len(changed), BATCH):
        batch = changed[start : start + BATCH]
        events = defaultdict(list)
        for event in AuditEvent.objects.filter(chain__in=batch).order_by("chain", "seq"):
            events[event.chain].append(event_record(event))
        for chain in batch:
            old = previous.get(chain)
            report = verify_events(chain, events[chain], at_seq=old["seq"] if old else None)
            problem = report.describe() if not report.ok else chain_against_head(report, old, label)
            bad, missing = mac_faults(events[chain], key.mac_key, old["seq"] if old else 0)
            if bad:
                problem = (
                    problem or f"{chain}: event #{bad[0]}'s authentication code does not match"
                )
            if missing and status.latest is not None:
                problem = problem or f"{chain}: event #{missing[0]} has no authentication code"
            if problem:
                problems.append(problem)
    return problems


def _document(
    heads: list[dict[str, Any]], status: CheckpointStatus, key: CheckpointKey, number: int
) -> dict[str, Any]:
    signed = {
        "number": number,
        "created_at": timezone.now().isoformat(),
        "chains": len(heads),
        "events": sum(h["events"] for h in heads),
        "root": merkle_root([head_leaf(h) for h in heads]),
        "previous": checkpoint_digest(status.document) if status.document else None,
        "key_id": key.key_id,
        "algorithm": "ed25519",
    }
    return {
        "format": CHECKPOINT_FORMAT,
        "signed": signed,
        "signature": base64.b64encode(key.sign(signing_message(signed))).decode(),
        "heads": heads,
    }


def _files_write(directory: Path, number: int, document: dict[str, Any]) -> Path:
    """The numbered file (never overwritten: a concurrent writer of the same
    number loses) and latest.json (replaced atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    path = checkpoint_file(directory, number)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise Conflict(f"Checkpoint #{number} was written by someone else; try again.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary = directory / f".{LATEST}.{number}.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, directory / LATEST)
    return path


def checkpoint_write() -> CheckpointWritten:
    """Sign and store a checkpoint of every chain's head now."""
    key = checkpoint_key()
    if key is None:
        raise ServiceError(
            "No checkpoint key is configured: set AUDIT_CHECKPOINT_KEY_FILE (or "
            "AUDIT_CHECKPOINT_KEY); `manage.py audit_checkpoint --generate-key FILE` makes one."
        )
    status = checkpoint_status()
    if status.problems:
        raise Conflict(
            "Checkpoint not written: a checkpoint in AUDIT_CHECKPOINT_DIR does not verify ("
            + "; ".join(status.problems)
            + "). Investigate, then move that file out of the directory."
        )
    with read_snapshot():
        heads = chain_heads()
        problems = _changes_verify(heads, status, key)
    if problems:
        log.error("audit checkpoint refused: %s", "; ".join(problems))
        raise Conflict(
            f"Checkpoint not written: the audit trail disagrees with {status.label}: "
            + "; ".join(problems[:10])
        )
    number = status.highest_number + 1
    document = _document(heads, status, key, number)
    path = _files_write(Path(settings.AUDIT_CHECKPOINT_DIR), number, document)
    log.info("audit checkpoint #%s: %s chains", number, len(heads))
    return CheckpointWritten(number=number, path=path, document=document)
