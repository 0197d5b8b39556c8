"""The standard-library verifier (negotiator/audit_offline.py): its Ed25519 and
Merkle code against references, the hash recipe, rows against events, and its
command line. No database."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from negotiator import audit_offline as off
from negotiator.audit_key import private_key_parse, public_key_pem, signature_verify
from tests.negotiator.audit_fixtures import OFFLINE


def test_ed25519_matches_the_rfc_8032_test_vector():
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert off.ed25519_verify(public, b"", signature)
    assert not off.ed25519_verify(public, b"x", signature)


def test_ed25519_agrees_with_the_cryptography_package():
    rng = random.Random(7)
    for _ in range(12):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        public = key.public_key().public_bytes_raw()
        message = rng.randbytes(rng.randrange(0, 200))
        signature = key.sign(message)
        assert off.ed25519_verify(public, message, signature)
        assert signature_verify(public, message, signature)  # the server's faster check
        flipped = bytearray(signature)
        flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)
        assert not off.ed25519_verify(public, message, bytes(flipped))
        assert not signature_verify(public, message, bytes(flipped))
        assert not off.ed25519_verify(public, message + b"!", signature)
        other = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32)).public_key()
        assert not off.ed25519_verify(other.public_bytes_raw(), message, signature)


def test_ed25519_refuses_a_malleated_signature():
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    public = key.public_key().public_bytes_raw()
    signature = key.sign(b"checkpoint")
    s = int.from_bytes(signature[32:], "little") + off._L  # same point, non-canonical S
    assert not off.ed25519_verify(public, b"checkpoint", signature[:32] + s.to_bytes(32, "little"))


def test_merkle_root_follows_rfc_6962():
    assert off.merkle_root([]) == hashlib.sha256(b"").hexdigest()
    assert off.merkle_root([b"a"]) == hashlib.sha256(b"\x00a").hexdigest()
    a, b, c = (hashlib.sha256(b"\x00" + x).digest() for x in (b"a", b"b", b"c"))
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert off.merkle_root([b"a", b"b", b"c"]) == hashlib.sha256(b"\x01" + ab + c).hexdigest()


@pytest.mark.parametrize("size", range(1, 18))
def test_every_leaf_has_an_inclusion_proof_and_nothing_else_does(size):
    leaves = [f"leaf {i}".encode() for i in range(size)]
    root = off.merkle_root(leaves)
    for index in range(size):
        path = off.inclusion_proof(leaves, index)
        assert off.inclusion_verify(leaves[index], index, size, path, root)
        assert not off.inclusion_verify(b"forged", index, size, path, root)
        assert not off.inclusion_verify(leaves[index], index, size, path, off.merkle_root([b"x"]))
        assert not off.inclusion_verify(leaves[index], size, size, path, root)
        if size > 1:
            assert not off.inclusion_verify(leaves[index], (index + 1) % size, size, path, root)


def _old_recipe(prev_hash, chain, seq, kind, actor, created_at, payload_json):
    """Version 1 as audit.py computed it before hash versions existed."""
    body = json.dumps(
        {
            "chain": chain,
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "created_at": created_at,
            "payload": payload_json,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def test_version_1_hashes_as_before_and_version_2_covers_negotiation_and_user():
    fields = {
        "prev_hash": off.GENESIS,
        "chain": "negotiation:5",
        "seq": 1,
        "kind": "negotiation.created",
        "actor": "user:ann",
        "created_at": "2026-01-01T00:00:00+00:00",
        "payload_json": '{"a":1}',
    }
    v1 = off.event_digest(version=1, negotiation_id=5, user_id=3, **fields)
    assert v1 == _old_recipe(*fields.values())
    assert v1 == off.event_digest(version=1, negotiation_id=9, user_id=None, **fields)
    v2 = off.event_digest(version=2, negotiation_id=5, user_id=3, **fields)
    assert v2 != v1
    assert v2 != off.event_digest(version=2, negotiation_id=6, user_id=3, **fields)
    assert v2 != off.event_digest(version=2, negotiation_id=5, user_id=4, **fields)
    with pytest.raises(ValueError):
        off.event_digest(version=3, negotiation_id=5, user_id=3, **fields)


def _chain(n: int, versions=None) -> list[off.EventRecord]:
    events, prev = [], off.GENESIS
    for seq in range(1, n + 1):
        version = versions[seq - 1] if versions else 2
        fields = {
            "chain": "negotiation:5",
            "seq": seq,
            "negotiation_id": 5,
            "user_id": None,
            "kind": "x",
            "actor": "system",
            "created_at": "2026-01-01T00:00:00+00:00",
            "payload_json": json.dumps({"i": seq}),
        }
        digest = off.event_digest(version=version, prev_hash=prev, **fields)
        events.append(off.EventRecord(hash_version=version, prev_hash=prev, hash=digest, **fields))
        prev = digest
    return events


def test_a_chain_verifies_and_names_its_first_fault():
    events = _chain(5, versions=[1, 1, 2, 2, 2])
    report = off.verify_events("negotiation:5", events, at_seq=3)
    assert (report.ok, report.last_seq, report.hash_at) == (True, 5, events[2].hash)
    gap = off.verify_events("negotiation:5", events[:2] + events[3:])
    assert (gap.ok, gap.broken_seq, gap.reason) == (False, 4, "expected sequence 3")
    downgraded = _chain(3, versions=[2, 1, 2])
    report = off.verify_events("negotiation:5", downgraded)
    assert (report.broken_seq, report.reason) == (2, "hash version 1 after version 2 (downgraded)")
    moved = off.verify_events("negotiation:6", events)
    assert moved.reason == "belongs to chain negotiation:5"


def test_rows_are_compared_with_what_their_events_recorded():
    events = [
        (
            3,
            "offer.propose",
            "agent:seller",
            {"offer_id": 7, "round": 0, "performative": "propose", "terms": {"price": 100}},
        ),
        (
            4,
            "offer.accept",
            "agent:buyer",
            {"offer_id": 8, "round": 0, "performative": "accept", "terms": {"price": 100}},
        ),
        (5, "negotiation.agreed", "system", {"terms": {"price": 100}}),
        (6, "negotiation.plan_recorded", "system", {"what": 1}),
    ]
    offers = [
        {
            "id": 7,
            "round": 0,
            "sender": "seller",
            "performative": "propose",
            "terms": {"price": 100},
        },
        {"id": 8, "round": 0, "sender": "buyer", "performative": "accept", "terms": {"price": 100}},
    ]
    records = {"agreed_terms": {"price": 100}, "plan": {"what": 1}, "offers": offers}
    assert off.records_problems(events, records) == []
    forged = {
        "agreed_terms": {"price": 1},
        "plan": {"what": 2},
        "offers": [{**offers[0], "terms": {"price": 1}, "round": 2}, {**offers[1], "sender": "x"}],
    }
    assert off.records_problems(events, forged) == [
        "agreed terms differ from audit event #5",
        "final plan differs from audit event #6",
        "offer 7: terms and round differ from audit event #3",
        "offer 8: sender differs from audit event #4",
    ]
    assert off.records_problems(events, {**records, "offers": offers[:1]}) == [
        "offer 8: recorded by audit event #4 but missing"
    ]
    sent_back = [
        *events,
        (
            7,
            "negotiation.status_changed",
            "user:ann",
            {"from": "pending_approval", "to": "running"},
        ),
    ]
    assert off.records_problems(sent_back, {**records, "agreed_terms": None}) == []
    assert off.records_problems([], {"agreed_terms": {"p": 1}, "plan": None, "offers": []}) == [
        "agreed terms are set, but no audit event records an agreement"
    ]


def test_public_keys_parse_from_pem_and_base64():
    key = private_key_parse(base64.b64encode(bytes(range(32))).decode(), source="test")
    raw = key.public_key().public_bytes_raw()
    assert off.public_key_parse(public_key_pem(raw)) == raw
    assert off.public_key_parse(base64.b64encode(raw).decode()) == raw
    with pytest.raises(ValueError):
        off.public_key_parse("not a key")


def test_the_command_line_says_when_it_cannot_read_its_input(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(OFFLINE), str(tmp_path / "bad.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "NOT VERIFIED: cannot read the input" in result.stdout


def test_the_module_imports_only_the_standard_library():
    """-S leaves site-packages (Django, cryptography) off the path."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import runpy; runpy.run_path({str(OFFLINE)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
