"""The negotiator app's fixtures (the shipped playbooks, approval routes), shared."""

from tests.negotiator.conftest import auto_approval, procurement  # noqa: F401
