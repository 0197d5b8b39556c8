"""Where the language model is and how far to trust its availability: read from
settings (LLM_* in the environment) at call time, so a test or an operator can
change them without a restart of the code that reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

# The strategy name a participant carries when a language model picks among its
# candidate moves; ``strategy_params["base"]`` names the deterministic strategy
# that computes them (default: "default").
LLM_STRATEGY = "llm-assisted"
LLM_STRATEGY_HELP = (
    "the engine computes the allowed offers, a language model picks one and writes the message"
)


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    model: str
    api_key: str = field(repr=False)  # never in a log line or a page
    timeout: float
    retries: int
    token_budget: int
    retention_days: int


def llm_settings() -> LLMSettings | None:
    """The endpoint's settings, or None when no model is configured."""
    base_url = getattr(settings, "LLM_BASE_URL", "")
    if not base_url:
        return None
    return LLMSettings(
        base_url=base_url,
        model=settings.LLM_MODEL,
        api_key=settings.LLM_API_KEY,
        timeout=float(settings.LLM_TIMEOUT_SECONDS),
        retries=settings.LLM_RETRIES,
        token_budget=settings.LLM_TOKEN_BUDGET,
        retention_days=settings.LLM_RETENTION_DAYS,
    )


def llm_enabled() -> bool:
    return llm_settings() is not None


def strategy_known(name: str) -> bool:
    """The LLM-assisted strategy is a choice only while a model is configured."""
    return name == LLM_STRATEGY and llm_enabled()
