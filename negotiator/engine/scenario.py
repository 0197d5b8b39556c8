"""Scenarios for the simulator: issues, fixed terms and parties with profiles.

``scenario_from_dict`` reads the JSON scenario format (docs/scenario-format.md);
``genius_scenario`` builds one from the texts of a GENIUS folder. Both raise
:class:`ScenarioError` naming the source and the element at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ScenarioError
from .genius import is_genius_domain, parse_genius_domain, parse_genius_profile
from .outcomes import OutcomeSpace, issue_from_dict, issue_to_dict
from .preferences import PreferenceProfile, profile_from_dict, profile_to_dict
from .protocol import NegotiationSetup, Party


@dataclass(frozen=True)
class ScenarioParty:
    name: str
    profile: PreferenceProfile
    strategy: str | None = None  # suggested strategy; the simulator's argument wins
    params: Mapping[str, Any] = field(default_factory=dict)
    # Outcomes the party's policies allow it to offer (see governance.govern).
    allowed: Any = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Scenario:
    name: str
    space: OutcomeSpace
    parties: tuple[ScenarioParty, ...]
    fixed_terms: Mapping[str, Any] = field(default_factory=dict)
    max_rounds: int = 100
    offer_ttl_rounds: int | None = None
    stall_rounds: int | None = None
    stall_threshold: float = 0.0

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parties)

    def setup(
        self, *, rounds: int | None = None, order: tuple[int, ...] | None = None
    ) -> NegotiationSetup:
        """A negotiation setup; ``order`` permutes who moves first."""
        parties = self.parties if order is None else tuple(self.parties[i] for i in order)
        return NegotiationSetup(
            space=self.space,
            parties=tuple(Party(p.name, p.profile, p.allowed) for p in parties),
            fixed_terms=dict(self.fixed_terms),
            max_rounds=rounds if rounds is not None else self.max_rounds,
            offer_ttl_rounds=self.offer_ttl_rounds,
            stall_rounds=self.stall_rounds,
            stall_threshold=self.stall_threshold,
        )


def scenario_from_dict(data: Any, *, source: str = "scenario") -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(source, "top level", "a scenario must be a JSON object")
    issues_data = data.get("issues")
    if not isinstance(issues_data, list) or not issues_data:
        raise ScenarioError(source, "issues", "a non-empty list of issues is required")
    issues = []
    for k, item in enumerate(issues_data):
        try:
            issues.append(issue_from_dict(item))
        except ValueError as exc:
            raise ScenarioError(source, f"issues[{k}]", str(exc)) from None
    try:
        space = OutcomeSpace(tuple(issues))
    except ValueError as exc:
        raise ScenarioError(source, "issues", str(exc)) from None
    fixed = data.get("fixed_terms", {})
    if not isinstance(fixed, Mapping):
        raise ScenarioError(source, "fixed_terms", "must be an object of name -> text or value")
    clash = sorted(set(fixed) & set(space.names))
    if clash:
        raise ScenarioError(source, "fixed_terms", f"names also used by negotiable issues: {clash}")
    parties_data = data.get("parties")
    if not isinstance(parties_data, list) or len(parties_data) < 2:
        raise ScenarioError(source, "parties", "at least two parties are required")
    parties = []
    for k, pdata in enumerate(parties_data):
        where = f"parties[{k}]"
        if not isinstance(pdata, Mapping) or not isinstance(pdata.get("name"), str):
            raise ScenarioError(source, where, "each party needs a 'name' and a 'profile'")
        where = f"parties[{k}] ({pdata['name']})"
        try:
            profile = profile_from_dict(pdata.get("profile"))
            profile.check_space(space)
        except ValueError as exc:
            raise ScenarioError(source, f"{where}.profile", str(exc)) from None
        parties.append(
            ScenarioParty(
                name=pdata["name"],
                profile=profile,
                strategy=pdata.get("strategy"),
                params=dict(pdata.get("params") or {}),
            )
        )
    names = [p.name for p in parties]
    if len(set(names)) != len(names):
        raise ScenarioError(source, "parties", f"party names must be unique: {names}")
    protocol = data.get("protocol") or {}
    try:
        max_rounds = int(protocol.get("max_rounds", data.get("max_rounds", 100)))
        ttl = protocol.get("offer_ttl_rounds")
        stall_rounds = protocol.get("stall_rounds")
        stall_threshold = float(protocol.get("stall_threshold", 0.0))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(source, "protocol", str(exc)) from None
    return Scenario(
        name=str(data.get("name", source)),
        space=space,
        parties=tuple(parties),
        fixed_terms=dict(fixed),
        max_rounds=max_rounds,
        offer_ttl_rounds=None if ttl is None else int(ttl),
        stall_rounds=None if stall_rounds is None else int(stall_rounds),
        stall_threshold=stall_threshold,
    )


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "issues": [issue_to_dict(i) for i in scenario.space.issues],
        "fixed_terms": dict(scenario.fixed_terms),
        "parties": [
            {"name": p.name, "profile": profile_to_dict(p.profile)}
            | ({"strategy": p.strategy} if p.strategy else {})
            | ({"params": dict(p.params)} if p.params else {})
            for p in scenario.parties
        ],
        "protocol": {
            "max_rounds": scenario.max_rounds,
            "offer_ttl_rounds": scenario.offer_ttl_rounds,
            "stall_rounds": scenario.stall_rounds,
            "stall_threshold": scenario.stall_threshold,
        },
    }


def genius_scenario(files: Mapping[str, str], *, name: str = "genius") -> Scenario:
    """Build a scenario from a GENIUS folder's files (file name -> XML text).

    The domain is the file that has no weights or evaluations (or is a
    ``negotiation_template``); every other XML file is a profile, taken in file
    name order. Party names are the profile file names without ``.xml``.
    """
    xml_files = {k: v for k, v in files.items() if k.lower().endswith(".xml")}
    domains = sorted(k for k, v in xml_files.items() if is_genius_domain(v))
    if not domains:
        raise ScenarioError(
            name, "folder", "no domain file (an XML file without weights/evaluations)"
        )
    if len(domains) > 1:
        raise ScenarioError(name, "folder", f"several candidate domain files: {domains}")
    domain = parse_genius_domain(xml_files[domains[0]], source=domains[0])
    profiles = sorted(k for k in xml_files if k != domains[0])
    if len(profiles) < 2:
        raise ScenarioError(name, "folder", f"need at least two profile files, found {profiles}")
    parties = []
    for fname in profiles:
        profile = parse_genius_profile(xml_files[fname], domain, source=fname)
        parties.append(
            ScenarioParty(name=fname.rsplit("/", 1)[-1].removesuffix(".xml"), profile=profile)
        )
    return Scenario(name=name, space=domain.space, parties=tuple(parties))
