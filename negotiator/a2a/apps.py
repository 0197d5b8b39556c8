from django.apps import AppConfig


class A2AConfig(AppConfig):
    name = "negotiator.a2a"
    label = "a2a"
    verbose_name = "A2A (outside agents)"

    def ready(self) -> None:
        # Seats that point at a supplier's agent are told about their turn by
        # calling that agent; the core only knows the registry.
        from negotiator.a2a import outbound
        from negotiator.models import SeatKind
        from negotiator.services.seats import seat_notifier_register

        seat_notifier_register(
            SeatKind.REMOTE_AGENT, outbound.agent_turn_notify, wanted=outbound.agent_turn_wanted
        )
