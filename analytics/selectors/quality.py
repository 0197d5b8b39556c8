"""One agreement's quality: its distance to the Pareto frontier and to the Nash
point of the private profiles, and the score that combines them
(negotiator.engine.analysis.agreement_quality). Private: computed only for a
viewer who may see every party's profile (negotiator.permissions)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock

import numpy as np

from negotiator import bridge, permissions
from negotiator.audit import canonical_json
from negotiator.engine import analysis
from negotiator.engine.preferences import profile_from_dict
from negotiator.models import Negotiation, Participant

# Analysing a space costs far more than reading it; an outcomes page asks for the
# same playbook version and profiles many times.
_ANALYSES: OrderedDict[tuple, analysis.SpaceAnalysis | None] = OrderedDict()
_ANALYSES_SIZE = 64
_LOCK = Lock()


@dataclass(frozen=True)
class Quality:
    """``visible`` False: the viewer may not see every profile (no numbers then)."""

    visible: bool
    pareto_distance: float | None = None
    nash_distance: float | None = None
    score: float | None = None
    on_frontier: bool | None = None


HIDDEN = Quality(visible=False)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _space_analysis(
    negotiation: Negotiation, profiles: list[tuple[str, dict]]
) -> analysis.SpaceAnalysis | None:
    version = negotiation.playbook_version
    key = (version.digest, tuple((role, canonical_json(p)) for role, p in profiles))
    with _LOCK:
        if key in _ANALYSES:
            _ANALYSES.move_to_end(key)
            return _ANALYSES[key]
    try:
        setup = bridge.setup_from_spec(
            version.spec, profiles, max_rounds=max(negotiation.max_rounds, 1), deadline=None
        )
        result = analysis.analyse(
            np.asarray(setup.utilities), [p.profile.reservation for p in setup.parties]
        )
    except (ValueError, KeyError, TypeError, MemoryError):
        result = None
    with _LOCK:
        _ANALYSES[key] = result
        while len(_ANALYSES) > _ANALYSES_SIZE:
            _ANALYSES.popitem(last=False)
    return result


def agreement_quality(
    *, user, negotiation: Negotiation, participants: Sequence[Participant] | None = None
) -> Quality | None:
    """None when there is no agreement (or the profiles do not fit the space);
    HIDDEN when the viewer may not see both (every) profile."""
    if negotiation.agreed_terms is None:
        return None
    parts = list(participants) if participants is not None else list(negotiation.participants.all())
    if len(parts) != 2 or negotiation.playbook_version.spec.get("plan_model"):
        # A bilateral measure: n-party plans are judged by their certificate and
        # consensus (and a frontier over 3+ utilities is quadratic in the space).
        return None
    if not all(permissions.may_see_private(user, p) for p in parts):
        return HIDDEN
    profiles = [(p.role, p.profile) for p in parts]
    space = _space_analysis(negotiation, profiles)
    if space is None:
        return None
    setup_space = bridge.space_from_spec(negotiation.playbook_version.spec)
    try:
        utilities = [
            profile_from_dict(profile).utility(negotiation.agreed_terms, setup_space)
            for _, profile in profiles
        ]
    except (KeyError, ValueError, TypeError):
        return None
    q = analysis.agreement_quality(space, utilities)
    return Quality(
        visible=True,
        pareto_distance=_finite(q.pareto_distance),
        nash_distance=_finite(q.nash_distance),
        score=q.quality,
        on_frontier=q.on_frontier,
    )
