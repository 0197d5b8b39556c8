"""Offline runs of a coalition playbook: many mediated negotiations, each agreed plan
certified, with the figures the issue asks for (agreement rate, feasible-plan
rate, consensus rounds, time per negotiation, exception rate)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from .constraints import certify
from .mediation import (
    AGREED,
    ESCALATED,
    MediationState,
    acceptances_refused,
    mediate_run,
    refusal_reason,
)
from .plan_model import PlanModel
from .protocol import Gate


@dataclass(frozen=True)
class CoalitionRun:
    run: int
    seed: int
    status: str
    agreement: bool
    consensus_rounds: int
    milliseconds: float  # the mediated negotiation and, for an agreement, its certificate
    cpu_milliseconds: float  # the same, in this process's CPU time (load-independent)
    feasible_plan: bool  # an agreement whose certificate is valid
    solver_status: str | None
    support: float  # share of the priority weight that accepted the final text
    utilities: dict[str, float]
    terms: dict[str, Any] | None
    reason: str
    blockers: list[list[str]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def consensus_checked(state: MediationState, gate: Gate) -> MediationState:
    """The agreed state, or an escalation naming each acceptance a policy refused
    (block or escalate: fail closed), as live rounds decide it."""
    refused = acceptances_refused(state.rounds[-1], gate)
    if not refused:
        return state
    return replace(state, status=ESCALATED, reason=refusal_reason(refused))


def simulate_coalition(
    model: PlanModel,
    profiles: Mapping[str, Mapping[str, Any]],
    runs: int,
    seed: int = 0,
    *,
    clock: Callable[[], float] = time.perf_counter,
    gate: Gate | None = None,
) -> Iterator[CoalitionRun]:
    """``runs`` negotiations from the mediator's first text with seeds ``seed``,
    ``seed + 1``, …; raises ValueError when the space is infeasible. With ``gate``
    (the playbook's policies), each acceptance of the consensus text is checked as
    live rounds check it: a refused consensus is an escalation."""
    start = model.start_text()
    if start is None:
        raise ValueError("the plan space is infeasible; no negotiation can start")
    setup = model.mediation_setup(profiles)
    for k in range(runs):
        began, began_cpu = clock(), time.process_time()
        state = mediate_run(setup, start, seed=seed + k)
        if gate is not None and state.status == AGREED:
            state = consensus_checked(state, gate)
        certificate = certify(model.system, state.text) if state.status == AGREED else None
        elapsed = (clock() - began) * 1000.0
        cpu = (time.process_time() - began_cpu) * 1000.0
        last = state.rounds[-1]
        yield CoalitionRun(
            run=k,
            seed=seed + k,
            status=state.status,
            agreement=state.status == AGREED,
            consensus_rounds=state.round,
            milliseconds=round(elapsed, 3),
            cpu_milliseconds=round(cpu, 3),
            feasible_plan=bool(certificate and certificate["valid"]),
            solver_status=certificate["solver_status"] if certificate else None,
            support=round(last.support, 4),
            utilities={
                name: round(profile.utility(state.text, model.space), 4)
                for name, profile in setup.parties
            },
            terms=dict(state.text) if state.status == AGREED else None,
            reason=state.reason,
            blockers=[list(b) for b in state.blockers],
        )


def summarize_coalition(results: Sequence[CoalitionRun]) -> dict[str, Any]:
    agreements = [r for r in results if r.agreement]
    times = [r.milliseconds for r in results]
    cpu = [r.cpu_milliseconds for r in results]
    rounds = [r.consensus_rounds for r in agreements]
    n = len(results) or 1
    return {
        "runs": len(results),
        "agreements": len(agreements),
        "agreement_rate": round(len(agreements) / n, 4),
        "feasible_plan_rate": (
            round(sum(r.feasible_plan for r in agreements) / len(agreements), 4)
            if agreements
            else None
        ),
        "mean_consensus_rounds": round(statistics.fmean(rounds), 2) if rounds else None,
        "median_consensus_rounds": statistics.median(rounds) if rounds else None,
        "mean_ms": round(statistics.fmean(times), 2) if times else None,
        "median_ms": round(statistics.median(times), 2) if times else None,
        "max_ms": round(max(times), 2) if times else None,
        "median_cpu_ms": round(statistics.median(cpu), 2) if cpu else None,
        "exception_rate": round(sum(r.status == ESCALATED for r in results) / n, 4),
        "statuses": dict(Counter(r.status for r in results)),
    }
