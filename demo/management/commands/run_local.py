"""Run the product on this machine as `make run` does: the Procfile's processes
(gunicorn, a Celery worker and beat) under honcho, the URL and demo logins once
the server answers, a one-line summary a minute, and a clean stop on Ctrl-C.

Ctrl-C reaches this process alone: it takes the terminal's foreground (its own
process group) and runs honcho in another group, so make and the services do not
get the keyboard's SIGINT; it then stops them with SIGTERM (gunicorn and the
worker finish what they are doing) and exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from demo.management.commands.bootstrap_demo import DEMO_USERS
from negotiator.models import Negotiation, NegotiationStatus, Offer

STOP_WAIT_SECONDS = 30
SUMMARY_EVERY_SECONDS = 60


def _banner(url: str) -> str:
    lines = [
        "",
        f"  Negotiator is running at {url}",
        "",
        *(f"    log in as {u:<9} password {p}" for u, p, *_ in DEMO_USERS),
        "",
        "  Ctrl-C stops it.  `make banner` prints this again.",
        "",
    ]
    return "\n".join(lines)


def _answers(url: str) -> bool:
    """The web server serves pages (the login page: public, needs no worker). Not
    /healthz: it answers 503 until the worker's first heartbeat, and each 503 is
    an ERROR line in the log a person watches while the product starts."""
    try:
        with urllib.request.urlopen(url + "login/", timeout=2) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def _summary(since) -> str:
    offers = Offer.objects.filter(created_at__gte=since).count()
    ended = dict(
        Negotiation.objects.filter(ended_at__gte=since)
        .values_list("status")
        .order_by()
        .annotate(n=Count("pk"))
    )
    running = Negotiation.objects.filter(status=NegotiationStatus.RUNNING).count()
    waiting = Negotiation.objects.filter(status=NegotiationStatus.PENDING_APPROVAL).count()
    done = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(ended.items())) or "none ended"
    return (
        f"  {timezone.localtime():%H:%M} · last minute: {offers} offers, {done} · "
        f"now {running} running, {waiting} waiting for approval"
    )


class _Foreground:
    """Take the terminal's foreground for this process's own group (when there is a
    terminal), so the keyboard's Ctrl-C comes here and not to make or the services."""

    def __init__(self) -> None:
        self.fd = None
        self.previous = None

    def __enter__(self) -> _Foreground:
        try:
            fd = sys.stdin.fileno()
            if not os.isatty(fd):
                return self
            self.previous = os.tcgetpgrp(fd)
            os.setpgid(0, 0)
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(fd, os.getpgrp())
            self.fd = fd
        except (OSError, ValueError):
            self.fd = None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None and self.previous is not None:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(self.fd, self.previous)


class Command(BaseCommand):
    help = "Run the web server, a worker and beat together (what `make run` starts)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--banner-only", action="store_true", help="Print the URL and logins, then exit."
        )
        parser.add_argument("--procfile", default=str(settings.BASE_DIR / "Procfile"))

    def handle(self, *args, port: int, banner_only: bool, procfile: str, **options) -> None:
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be between 1 and 65535, got {port}.")
        url = f"http://127.0.0.1:{port}/"
        if banner_only:
            self.stdout.write(_banner(url))
            return
        stop = {"asked": False}

        def ask_stop(signum, frame) -> None:
            stop["asked"] = True

        with _Foreground():
            signal.signal(signal.SIGINT, ask_stop)
            signal.signal(signal.SIGTERM, ask_stop)
            env = {**os.environ, "NEGOTIATOR_PORT": str(port), "PYTHONUNBUFFERED": "1"}
            honcho = subprocess.Popen(
                [sys.executable, "-m", "honcho", "start", "-f", procfile],
                env=env,
                cwd=settings.BASE_DIR,
                start_new_session=True,  # the keyboard's Ctrl-C is ours to handle
            )
            status = self._watch(honcho, url, stop)
        if status is None:
            self.stdout.write("  stopped.")
            return
        raise CommandError(f"a process stopped unexpectedly (honcho exited {status})")

    def _watch(self, honcho: subprocess.Popen, url: str, stop: dict) -> int | None:
        """Banner once the server answers, a summary a minute; None after a clean stop."""
        announced = False
        next_summary = time.monotonic() + SUMMARY_EVERY_SECONDS
        since = timezone.now()
        while honcho.poll() is None:
            if stop["asked"]:
                return self._stop(honcho)
            if not announced and _answers(url):
                self.stdout.write(_banner(url))
                announced = True
            if announced and time.monotonic() >= next_summary:
                now = timezone.now()
                self.stdout.write(_summary(since))
                since, next_summary = now, time.monotonic() + SUMMARY_EVERY_SECONDS
            time.sleep(0.5)
        return honcho.returncode

    def _stop(self, honcho: subprocess.Popen) -> None:
        self.stdout.write("\n  stopping (the worker finishes its current task)…")
        honcho.send_signal(signal.SIGTERM)
        try:
            honcho.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(timeout=10)
        return None
