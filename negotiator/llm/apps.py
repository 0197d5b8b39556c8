from django.apps import AppConfig


class LLMConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "negotiator.llm"
    label = "llm"
    verbose_name = "Language model"
