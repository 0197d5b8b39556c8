from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run` (bootstrap_demo). It builds on every other app;
    nothing depends on it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
    verbose_name = "Demo data"
