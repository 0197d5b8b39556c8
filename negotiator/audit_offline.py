"""Verify an exported audit trail offline, with the Python standard library only.

    python -I -S negotiator/audit_offline.py EXPORT.json \\
        [--checkpoint CHECKPOINT.json] [--key-file PUBLIC_KEY]

EXPORT.json is a negotiation's ``audit.json`` export; CHECKPOINT.json a signed
checkpoint (the whole file the server wrote, or the extract for one negotiation
downloaded from its audit page); PUBLIC_KEY the checkpoint signer's Ed25519
public key, which the auditor got from the operator over another channel (PEM or
base64 of the 32 raw bytes). Exit status: 0 verified, 1 tampering found, 2 not
verified (unreadable input, redacted events, a checkpoint without a trusted key,
or no checkpoint at all: a hash chain alone cannot show that its tail was cut
off or that it was rewritten with recomputed hashes).

This file is also the one definition of the hash recipe and of the checkpoint
format: negotiator/audit.py and the checkpoint services import them from here.
It imports nothing outside the standard library, so auditors can run it with
``-I -S`` on a machine that has neither Django nor a database. Ed25519
verification is implemented here (RFC 8032, section 5.1.7; verification handles
only public data, so it needs no constant-time arithmetic); signing stays with
the ``cryptography`` package on the server.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"
# 1: chain, seq, kind, actor, time and payload. 2 adds the negotiation and the
# user, so moving an event to another negotiation or person breaks its hash.
HASH_VERSION = 2
HASH_VERSIONS = (1, 2)
EXPORT_FORMAT = "negotiator-audit-export/2"
CHECKPOINT_FORMAT = "negotiator-audit-checkpoint/1"

EXIT_VERIFIED, EXIT_TAMPERED, EXIT_UNVERIFIED = 0, 1, 2


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_name(negotiation_id: int | None) -> str:
    return GLOBAL_CHAIN if negotiation_id is None else f"negotiation:{negotiation_id}"


def event_digest(
    *,
    version: int,
    prev_hash: str,
    chain: str,
    seq: int,
    negotiation_id: int | None,
    user_id: int | None,
    kind: str,
    actor: str,
    created_at: str,
    payload_json: str,
) -> str:
    """sha256(previous hash + canonical JSON of the event's fields)."""
    body: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "created_at": created_at,
        "payload": payload_json,
    }
    if version == 2:
        body.update(v=2, negotiation_id=negotiation_id, user_id=user_id)
    elif version != 1:
        raise ValueError(f"unknown hash version {version}")
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def event_mac(key: bytes, event_hash: str) -> str:
    """The authentication code the server stores with an event: only a holder of
    the key can make one, so an event a database administrator appended (with a
    correct hash) does not carry a valid one. The hash already covers every field."""
    return hmac.digest(key, event_hash.encode(), "sha256").hex()


# --------------------------------------------------------------------------
# Hash chains
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRecord:
    """One audit event as a verifier sees it. ``payload_json`` is None when the
    export redacted the payload: its hash cannot be recomputed then."""

    seq: int
    hash_version: int
    chain: str
    negotiation_id: int | None
    user_id: int | None
    kind: str
    actor: str
    created_at: str
    payload_json: str | None
    prev_hash: str
    hash: str
    id: int | None = None
    mac: str = ""


@dataclass(frozen=True)
class ChainReport:
    chain: str
    events: int
    ok: bool
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""
    last_seq: int = 0
    last_hash: str = GENESIS
    # Events whose payload an export left out: linked, but not recomputed.
    redacted: int = 0
    # The hash of the event at the seq the caller asked about (a checkpoint's head).
    hash_at: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"{self.chain}: {self.events} events, verified"
        return (
            f"{self.chain}: broken at event #{self.broken_seq} (id {self.broken_id}): {self.reason}"
        )


def _event_fault(chain: str, event: EventRecord, expected_seq: int, prev_hash: str, v2: bool):
    if event.seq != expected_seq:
        return f"expected sequence {expected_seq}"
    if event.chain != chain:
        return f"belongs to chain {event.chain}"
    if chain_name(event.negotiation_id) != chain:
        return f"names negotiation {event.negotiation_id}, which is not this chain's"
    if event.hash_version not in HASH_VERSIONS:
        return f"unknown hash version {event.hash_version}"
    if event.hash_version < HASH_VERSION and v2:
        return f"hash version {event.hash_version} after version {HASH_VERSION} (downgraded)"
    if event.prev_hash != prev_hash:
        return "previous hash does not match"
    if event.payload_json is None:
        return None
    digest = event_digest(
        version=event.hash_version,
        prev_hash=prev_hash,
        chain=chain,
        seq=event.seq,
        negotiation_id=event.negotiation_id,
        user_id=event.user_id,
        kind=event.kind,
        actor=event.actor,
        created_at=event.created_at,
        payload_json=event.payload_json,
    )
    return None if hmac.compare_digest(digest, event.hash) else "content does not match its hash"


def verify_events(
    chain: str,
    events: Iterable[EventRecord],
    *,
    at_seq: int | None = None,
    after: tuple[int, str] = (0, GENESIS),
) -> ChainReport:
    """Walk a chain: sequence without gaps, each event linked to the one before
    and its hash recomputed from its fields. From the first event, or from
    ``after`` (seq, hash), a head already verified."""
    last_seq, prev_hash = after
    count, redacted, hash_at, v2 = 0, 0, None, False
    for event in events:
        count += 1
        fault = _event_fault(chain, event, last_seq + 1, prev_hash, v2)
        if fault:
            return ChainReport(chain, count, False, event.seq, event.id, fault, last_seq)
        v2 = v2 or event.hash_version >= HASH_VERSION
        redacted += event.payload_json is None
        if event.seq == at_seq:
            hash_at = event.hash
        last_seq, prev_hash = event.seq, event.hash
    return ChainReport(
        chain,
        count,
        True,
        last_seq=last_seq,
        last_hash=prev_hash,
        redacted=redacted,
        hash_at=hash_at,
    )


# --------------------------------------------------------------------------
# Rows that must agree with the trail
# --------------------------------------------------------------------------


def _offer_differences(offer: Mapping[str, Any], actor: str, payload: Mapping[str, Any]):
    recorded = {
        "terms": payload.get("terms"),
        "performative": payload.get("performative"),
        "round": payload.get("round"),
        "sender": actor.removeprefix("agent:"),
    }
    return [name for name, value in recorded.items() if offer.get(name) != value]


def records_problems(
    events: Iterable[tuple[int, str, str, Mapping[str, Any]]], records: Mapping[str, Any]
) -> list[str]:
    """Where a negotiation's rows disagree with what its audit events recorded.

    ``events`` are (seq, kind, actor, payload) in chain order; ``records`` holds
    the rows: agreed_terms, plan and offers (id, round, sender, performative,
    terms). The agreed terms are those of the last ``negotiation.agreed`` event,
    void again once an approver sends the deal back (pending_approval -> running);
    the plan is the last ``negotiation.plan_recorded``; every offer has the
    ``offer.*`` event that carried its id."""
    terms, terms_seq, plan, plan_seq = None, None, None, None
    offer_events: dict[Any, tuple[int, str, Mapping[str, Any]]] = {}
    for seq, kind, actor, payload in events:
        if kind == "negotiation.agreed":
            terms, terms_seq = payload.get("terms"), seq
        elif kind == "negotiation.status_changed" and (payload.get("from"), payload.get("to")) == (
            "pending_approval",
            "running",
        ):
            terms, terms_seq = None, seq
        elif kind == "negotiation.plan_recorded":
            plan, plan_seq = dict(payload), seq
        elif kind.startswith("offer.") and "offer_id" in payload:
            offer_events[payload["offer_id"]] = (seq, actor, payload)
    problems = []
    if records.get("agreed_terms") != terms:
        problems.append(
            f"agreed terms differ from audit event #{terms_seq}"
            if terms_seq
            else "agreed terms are set, but no audit event records an agreement"
        )
    if records.get("plan") != plan:
        problems.append(
            f"final plan differs from audit event #{plan_seq}"
            if plan_seq
            else "a final plan is set, but no audit event records one"
        )
    for offer in records.get("offers", []):
        found = offer_events.pop(offer["id"], None)
        if found is None:
            problems.append(f"offer {offer['id']}: no audit event records it")
            continue
        differ = _offer_differences(offer, found[1], found[2])
        if differ:
            verb = "differ" if len(differ) > 1 or differ == ["terms"] else "differs"
            problems.append(
                f"offer {offer['id']}: {' and '.join(differ)} {verb} from audit event #{found[0]}"
            )
    for offer_id, (seq, _, _) in sorted(offer_events.items(), key=lambda item: item[1][0]):
        problems.append(f"offer {offer_id}: recorded by audit event #{seq} but missing")
    return problems


# --------------------------------------------------------------------------
# Merkle tree over chain heads (RFC 6962 / RFC 9162, section 2.1)
# --------------------------------------------------------------------------


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def head_leaf(head: Mapping[str, Any]) -> bytes:
    """A chain head as a leaf: its name, last seq, last hash and event count."""
    return canonical_json({k: head[k] for k in ("chain", "seq", "hash", "events")}).encode()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> str:
    def root(items: Sequence[bytes]) -> bytes:
        if not items:
            return hashlib.sha256(b"").digest()
        if len(items) == 1:
            return _leaf_hash(items[0])
        k = _split(len(items))
        return _node_hash(root(items[:k]), root(items[k:]))

    return root(leaves).hex()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[str]:
    """The audit path of leaf ``index`` (hex), leaf side first."""

    def path(m: int, items: Sequence[bytes]) -> list[str]:
        if len(items) <= 1:
            return []
        k = _split(len(items))
        if m < k:
            return [*path(m, items[:k]), merkle_root(items[k:])]
        return [*path(m - k, items[k:]), merkle_root(items[:k])]

    return path(index, leaves)


def inclusion_verify(leaf: bytes, index: int, size: int, path: Sequence[str], root: str) -> bool:
    """RFC 9162, section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, _leaf_hash(leaf)
    try:
        nodes = [bytes.fromhex(p) for p in path]
    except ValueError:
        return False
    for p in nodes:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r.hex(), root)


# --------------------------------------------------------------------------
# Ed25519 verification (RFC 8032, section 5.1.7)
# --------------------------------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _add(a: tuple, b: tuple) -> tuple:
    x = (a[1] - a[0]) * (b[1] - b[0]) % _P
    y = (a[1] + a[0]) * (b[1] + b[0]) % _P
    c = 2 * a[3] * b[3] * _D % _P
    d = 2 * a[2] * b[2] % _P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, point: tuple) -> tuple:
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, point)
        point = _add(point, point)
        s >>= 1
    return q


def _equal(a: tuple, b: tuple) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


def _decompress(data: bytes) -> tuple | None:
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public_key), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
    return _equal(_mul(s, _G), _add(r, _mul(h % _L, a)))


# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's 32 bytes follow.
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def public_key_parse(text: str) -> bytes:
    """An Ed25519 public key from PEM ("PUBLIC KEY") or base64 of its 32 bytes."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is neither PEM nor base64") from None
    if len(raw) == 44 and raw.startswith(_SPKI_PREFIX):
        raw = raw[len(_SPKI_PREFIX) :]
    if len(raw) != 32:
        raise ValueError("not an Ed25519 public key (expected 32 bytes)")
    return raw


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


# --------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------


def signing_message(signed: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return f"{CHECKPOINT_FORMAT}\n{canonical_json(dict(signed))}".encode()


def checkpoint_digest(document: Mapping[str, Any]) -> str:
    """What the next checkpoint names as its predecessor."""
    return hashlib.sha256(signing_message(document["signed"])).hexdigest()


@dataclass
class CheckpointCheck:
    """A checkpoint's own verification: its signature and that its heads are the
    ones the signed root commits to."""

    number: int | None = None
    created_at: str = ""
    signature_ok: bool | None = None  # None: no trusted key to check it with
    problems: list[str] = field(default_factory=list)
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.signature_ok is True and not self.problems

    def label(self) -> str:
        return f"checkpoint #{self.number}" if self.number is not None else "the checkpoint"


def _heads_problem(document: Mapping[str, Any], signed: Mapping[str, Any]) -> str | None:
    heads = document.get("heads")
    if not isinstance(heads, list):
        return "it lists no chain heads"
    proof = document.get("proof")
    try:
        if proof is None:
            leaves = [head_leaf(h) for h in sorted(heads, key=lambda h: h["chain"])]
            if len(leaves) != signed["chains"] or merkle_root(leaves) != signed["root"]:
                return "its chain heads do not match its signed root"
            return None
        if len(heads) != 1 or not inclusion_verify(
            head_leaf(heads[0]), proof["index"], signed["chains"], proof["path"], signed["root"]
        ):
            return "its chain head is not included in its signed root"
    except (KeyError, TypeError, ValueError):
        return "its chain heads are malformed"
    return None


def checkpoint_verify(
    document: Any, public_key: bytes | None, *, verify_signature=ed25519_verify
) -> CheckpointCheck:
    """``verify_signature(public_key, message, signature)``: the server passes a
    faster one (the ``cryptography`` package); auditors use this module's."""
    check = CheckpointCheck()
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        check.problems.append("not a Negotiator audit checkpoint")
        return check
    signed = document.get("signed")
    if not isinstance(signed, dict):
        check.problems.append("it has no signed part")
        return check
    check.number, check.created_at = signed.get("number"), str(signed.get("created_at", ""))
    if public_key is not None:
        try:
            signature = base64.b64decode(document.get("signature", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            signature = b""
        check.signature_ok = verify_signature(public_key, signing_message(signed), signature)
        if not check.signature_ok:
            check.problems.append(
                f"its signature does not verify with key {key_id(public_key)} "
                f"(it names key {signed.get('key_id')}): forged or altered"
            )
    problem = _heads_problem(document, signed)
    if problem:
        check.problems.append(problem)
    else:
        check.heads = {h["chain"]: dict(h) for h in document["heads"]}
    return check


def chain_against_head(report: ChainReport, head: Mapping[str, Any] | None, label: str):
    """What a checkpoint's head of this chain says about the chain now (None: agrees)."""
    if head is None:
        return None
    if report.events == 0 and report.ok:
        return f"{report.chain} is missing: {label} recorded {head['events']} events"
    if report.ok and report.last_seq < head["seq"]:
        return (
            f"{report.chain} is shorter than at {label}: {report.last_seq} events, "
            f"{label} recorded {head['events']}; its tail was deleted"
        )
    if report.ok and report.hash_at != head["hash"]:
        return f"{report.chain}: event #{head['seq']} differs from {label}; the chain was rewritten"
    return None


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------


def _event_from_export(item: Mapping[str, Any], chain: str) -> EventRecord:
    return EventRecord(
        seq=item["seq"],
        hash_version=item.get("hash_version", 1),
        chain=item.get("chain", chain),
        negotiation_id=item.get("negotiation_id"),
        user_id=item.get("user_id"),
        kind=item["kind"],
        actor=item["actor"],
        created_at=item["created_at"],
        payload_json=item.get("payload_json"),
        prev_hash=item["prev_hash"],
        hash=item["hash"],
    )


@dataclass
class Verdict:
    lines: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.tampered:
            return EXIT_TAMPERED
        return EXIT_UNVERIFIED if self.unverified else EXIT_VERIFIED


def _load_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _verify_checkpoint(
    verdict: Verdict, report: ChainReport, checkpoint: Any, public_key: bytes | None
) -> None:
    check = checkpoint_verify(checkpoint, public_key)
    label = check.label()
    verdict.tampered += [f"{label}: {p}" for p in check.problems]
    if check.signature_ok is None:
        verdict.unverified.append(
            f"{label}: no trusted public key given (--key-file), its signature is not checked"
        )
    elif check.signature_ok:
        verdict.lines.append(f"ok  {label} ({check.created_at}): signature verified")
    head = check.heads.get(report.chain)
    if check.problems:
        return
    if head is None:
        verdict.lines.append(f"--  {label} has no head for {report.chain} (newer than it)")
        return
    problem = chain_against_head(report, head, label)
    if problem:
        verdict.tampered.append(problem)
        return
    verdict.lines.append(
        f"ok  {label} recorded {head['events']} events of {report.chain}; "
        f"event #{head['seq']} matches"
    )
    if report.ok and report.last_seq > head["seq"]:
        verdict.unverified.append(
            f"events #{head['seq'] + 1}-#{report.last_seq} are newer than {label}: they follow "
            "the chain, but no signature vouches for them yet (ask for a newer checkpoint)"
        )


def verify_export(
    export: Any, *, checkpoint: Any = None, public_key: bytes | None = None
) -> Verdict:
    verdict = Verdict()
    if not isinstance(export, dict) or not isinstance(export.get("events"), list):
        verdict.unverified.append("not a Negotiator audit export (no events list)")
        return verdict
    chain = export.get("chain") or chain_name(export.get("negotiation"))
    try:
        events = [_event_from_export(item, chain) for item in export["events"]]
    except (KeyError, TypeError) as exc:
        verdict.unverified.append(f"an event in the export lacks a field: {exc}")
        return verdict
    at_seq = None
    if isinstance(checkpoint, dict):
        heads = checkpoint.get("heads") or []
        at_seq = next((h.get("seq") for h in heads if h.get("chain") == chain), None)
    report = verify_events(chain, events, at_seq=at_seq)
    if not report.ok:
        verdict.tampered.append(report.describe())
    else:
        verdict.lines.append(
            f"ok  hash chain {chain}: {report.events} events, each follows the last"
        )
    if report.redacted:
        verdict.unverified.append(
            f"{report.redacted} events were redacted in this export; their content is not "
            "recomputed (ask for an unredacted export)"
        )
    if "records" in export:
        payloads = [
            (e["seq"], e["kind"], e["actor"], e.get("payload") or {}) for e in export["events"]
        ]
        problems = records_problems(payloads, export["records"])
        verdict.tampered += problems
        if not problems:
            verdict.lines.append("ok  agreed terms, final plan and offers match their events")
    if checkpoint is None:
        verdict.unverified.append(
            "no checkpoint given: a deleted tail or a chain rewritten with recomputed hashes "
            "cannot be detected without one"
        )
    else:
        _verify_checkpoint(verdict, report, checkpoint, public_key)
    return verdict


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="a negotiation's audit.json export")
    parser.add_argument("--checkpoint", help="a signed checkpoint (file or extract)")
    parser.add_argument("--key-file", help="the checkpoint signer's Ed25519 public key")
    args = parser.parse_args(argv)
    try:
        export = _load_json(args.export)
        checkpoint = _load_json(args.checkpoint) if args.checkpoint else None
        public_key = None
        if args.key_file:
            with open(args.key_file, encoding="utf-8") as handle:
                public_key = public_key_parse(handle.read())
    except (OSError, ValueError) as exc:
        print(f"NOT VERIFIED: cannot read the input: {exc}")
        return EXIT_UNVERIFIED
    verdict = verify_export(export, checkpoint=checkpoint, public_key=public_key)
    for line in verdict.lines:
        print(line)
    for line in verdict.tampered:
        print(f"FAIL {line}")
    for line in verdict.unverified:
        print(f"??  {line}")
    if verdict.tampered:
        print(f"TAMPERED: {len(verdict.tampered)} problem(s); the trail cannot be trusted.")
    elif verdict.unverified:
        print("NOT VERIFIED: the trail is intact as far as checked, but see '??' above.")
    else:
        print("VERIFIED: the trail is intact and matches the signed checkpoint.")
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
