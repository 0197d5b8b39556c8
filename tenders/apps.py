from django.apps import AppConfig


class TendersConfig(AppConfig):
    """Tenders (RFQs) with many bidders, bid-rigging screens and red-teaming.
    Builds on negotiator and approvals; neither depends on it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "tenders"
    verbose_name = "Tenders"
