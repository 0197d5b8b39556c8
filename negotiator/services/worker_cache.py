"""What a worker keeps between rounds: immutable rows (policy and playbook
versions, a running negotiation's participants) and the engine setups built from
them, whose utility tables would otherwise dominate a round's cost."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.db import connection

from negotiator import bridge, round_store
from negotiator.audit import canonical_json
from negotiator.engine import governance
from negotiator.engine.protocol import NegotiationSetup
from negotiator.models import Negotiation, Participant, PlaybookVersion, PolicyVersion
from negotiator.services.policies import policy_spec_of


def _keeps_rows() -> bool:
    """Whether a primary key names one row for the worker's lifetime: PostgreSQL
    sequences never hand an id out twice; SQLite reuses the ids of rolled-back
    inserts."""
    return connection.vendor == "postgresql"


class KeptRows(dict):
    """Rows a worker keeps between rounds, by primary key (at most ``limit``; a
    full cache starts over). Where ids can return (SQLite) nothing is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def get_many(self, keys: list, load: Callable[[list], Mapping]) -> list:
        """Values for ``keys`` in order; ``load(missing)`` maps the ones not kept."""
        if not _keeps_rows():
            found = load(keys)
            return [found[k] for k in keys]
        if len(self) > self.limit:
            self.clear()
        missing = [k for k in keys if k not in self]
        if missing:
            self.update(load(missing))
        return [self[k] for k in keys]


# Policy and playbook versions never change once written. A negotiation's
# participants (with their private profile copies) never change either; a
# worker keeps those of the negotiations it runs and drops them when one ends.
POLICY_VERSIONS = KeptRows(limit=10_000)
PLAYBOOK_VERSIONS = KeptRows(limit=1_000)
PARTICIPANTS = KeptRows(limit=5_000)


def policy_versions_by_id(ids: Sequence[int]) -> list[PolicyVersion]:
    """Policy versions in the given order, from the worker's cache where it can."""
    return POLICY_VERSIONS.get_many(list(ids), PolicyVersion.objects.in_bulk)


def playbook_version_kept(pk: int) -> PlaybookVersion:
    return PLAYBOOK_VERSIONS.get_many([pk], PlaybookVersion.objects.in_bulk)[0]


def participants_kept(negotiation: Negotiation) -> list[Participant]:
    return PARTICIPANTS.get_many(
        [negotiation.pk], lambda keys: {negotiation.pk: list(negotiation.participants.all())}
    )[0]


def participants_count_hint(negotiation_id: int) -> int:
    """How many offers a round of this negotiation may send (ids to reserve)."""
    kept = PARTICIPANTS.get(negotiation_id)
    return len(kept) if kept else 2


def participants_forget(negotiation_id: int) -> None:
    """A negotiation stopped running: its participants need not be kept."""
    PARTICIPANTS.pop(negotiation_id, None)


def worker_caches_clear() -> None:
    """Forget every row and engine setup a worker keeps (tests; a reset database)."""
    POLICY_VERSIONS.clear()
    PLAYBOOK_VERSIONS.clear()
    PARTICIPANTS.clear()
    bridge.SETUPS.clear()


def applicable_policy_versions(negotiation: Negotiation) -> list[PolicyVersion]:
    """Active policies' current versions that apply to this negotiation (read
    every round, so a policy change applies from the next round on)."""
    return policy_versions_by_id(round_store.applicable_version_ids(negotiation))


def _version_key(version: PolicyVersion) -> tuple:
    """What a policy version contributes to a setup: its content, not just its id."""
    key = getattr(version, "_setup_key", None)
    if key is None:
        key = (
            version.pk,
            version.kind,
            version.severity,
            version.scope,
            version.role_name,
            canonical_json(version.parameters),
        )
        version._setup_key = key
    return key


def setup_for(
    negotiation: Negotiation,
    participants: Sequence[Participant],
    versions: Sequence[PolicyVersion],
) -> NegotiationSetup:
    """The engine setup for this negotiation. The costly part (utility tables and
    the outcomes each party's policies allow) is shared by every negotiation with
    the same playbook version, profiles and policy versions."""
    version = negotiation.playbook_version
    deadline = negotiation.deadline.isoformat() if negotiation.deadline else None
    key = (
        version.digest,
        tuple((p.role, canonical_json(p.profile)) for p in participants),
        tuple(_version_key(v) for v in versions),
    )

    def build() -> NegotiationSetup:
        spec = version.spec
        allowed = governance.allowed_masks(
            bridge.space_from_spec(spec),
            [policy_spec_of(v) for v in versions],
            {p.role: p.profile for p in participants},
            fixed_terms=spec.get("fixed_terms", {}),
            issue_types={i["name"]: i.get("type", "numeric") for i in spec["issues"]},
            value_rule=spec.get("value_expression", ""),
            risk_rule=spec.get("risk_expression", ""),
        )
        return bridge.setup_from_spec(
            spec,
            [(p.role, p.profile) for p in participants],
            max_rounds=negotiation.max_rounds,
            deadline=None,
            allowed=allowed,
        )

    base = bridge.SETUPS.get(key, build)
    return bridge.with_limits(base, max_rounds=negotiation.max_rounds, deadline=deadline)


def policy_gate_for(
    negotiation: Negotiation,
    versions: Sequence[PolicyVersion],
    participants: Sequence[Participant],
) -> governance.PolicyGate:
    """The engine's policy gate for this negotiation's offers."""
    return bridge.policy_gate_from_spec(
        negotiation.playbook_version.spec,
        [policy_spec_of(v) for v in versions],
        {p.role: p.profile for p in participants},
        waivers=negotiation.waived_policies,
    )
