"""Serve a fake OpenAI-compatible model for offline trials: it picks a random
candidate (or the first) for every LLM-assisted turn.

    python manage.py llm_fake_server --port 8199 --mode random --seed 0
    LLM_BASE_URL=http://127.0.0.1:8199/v1 LLM_MODEL=fake python manage.py simulate --playbook procurement --llm
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from negotiator.llm.fake import FakeLLMServer, first_choice, random_choice


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible chat-completions endpoint (random or first candidate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8199)
        parser.add_argument("--mode", choices=["random", "first"], default="random")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        script = random_choice(options["seed"]) if options["mode"] == "random" else first_choice
        server = FakeLLMServer(script, port=options["port"])
        self.stdout.write(f"fake model at {server.base_url} ({options['mode']}); Ctrl-C stops it")
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
