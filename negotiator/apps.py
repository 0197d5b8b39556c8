from django.apps import AppConfig


class NegotiatorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "negotiator"
    verbose_name = "Negotiations"

    def ready(self) -> None:
        from negotiator import checks  # noqa: F401  (registers the system checks)
        from negotiator.services.invites import invite_notifier_register

        invite_notifier_register()  # outside people hear of their turn by mail
