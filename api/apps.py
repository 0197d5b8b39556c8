from django.apps import AppConfig


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "REST API and webhooks"

    def ready(self) -> None:
        # Status changes reach the webhooks through negotiator's listener
        # registry: negotiator never imports this app.
        from api.services.webhooks import webhook_events_record
        from negotiator import status_hooks

        status_hooks.listener_register("webhooks", webhook_events_record)
