from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Outcomes (what negotiations achieved) and what-if replays of past
    negotiations against a draft playbook. Reads negotiator and approvals; nothing
    there imports this app."""

    name = "analytics"
    verbose_name = "Outcomes and what-if"
