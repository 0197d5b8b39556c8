from django.apps import AppConfig


class TendersConfig(AppConfig):
    """Tenders (RFQs) with many bidders, bid-rigging screens and red-teaming.
    Builds on negotiator and approvals; neither depends on it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tenders"
    verbose_name = "Tenders"

    def ready(self) -> None:
        # A person's decision on an award negotiation moves its tender along.
        from negotiator import status_hooks
        from tenders import tasks  # noqa: F401  (registers the round task)
        from tenders.services.award import tender_follow_negotiation

        def follow(change: status_hooks.StatusChange) -> None:
            tender_follow_negotiation(
                negotiation_id=change.negotiation_id, status=change.target, reason=change.reason
            )

        status_hooks.listener_register("tenders.award", follow)

        # A bidder's agent bids over the A2A endpoint with its own kind of token.
        from negotiator.a2a.guard import token_door_register
        from tenders.a2a_bids import TOKEN_PREFIX, bid_rpc

        token_door_register(TOKEN_PREFIX, bid_rpc)
