"""Celery tasks of the A2A door: thin, take ids, call one service, retry as it says."""

from __future__ import annotations

from celery import shared_task

from negotiator.a2a import outbound


@shared_task(bind=True, name=outbound.AGENT_TURN, max_retries=None)
def agent_turn(self, negotiation_id: int, party: str, round_number: int, note: str = "") -> str:
    """Ask a supplier's agent for its move at this turn; ask again after a pause
    (with the problem named) while the turn lasts."""
    outcome = outbound.agent_turn_play(
        negotiation_id=negotiation_id,
        party=party,
        round_number=round_number,
        attempt=self.request.retries,
        note=note,
    )
    if outcome.retry_in is not None:
        raise self.retry(
            args=(negotiation_id, party, round_number, outcome.note), countdown=outcome.retry_in
        )
    return outcome.result
