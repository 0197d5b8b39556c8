"""Sending one webhook over HTTP(S), safely: only to the addresses the settings
allow (public ones, unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES), connecting to the
very address that was checked (no second DNS lookup a rebinding attacker could
answer differently), never following redirects, with a timeout and a bounded read
of the answer. No database here."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_CHARS = 1000
READ_LIMIT = 64 * 1024


class UrlRefused(ValueError):
    """The URL may not receive webhooks; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def url_shape_check(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path-with-query) of an acceptable URL; UrlRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"The URL is not valid: {exc}.") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused("Webhook URLs must start with https://.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host name.")
    if parts.username or parts.password:
        raise UrlRefused("Put no user name or password in the URL; the signature authenticates us.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return not ip.is_multicast and not ip.is_unspecified
    # Loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
    # reserved and documentation ranges are all "not global".
    return ip.is_global and not ip.is_multicast


def target_resolve(url: str) -> Target:
    """The URL's host resolved now, every address checked; UrlRefused otherwise."""
    scheme, host, port, path = url_shape_check(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"The host {host!r} cannot be resolved ({exc}).") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    refused = [a for a in addresses if not address_allowed(a)]
    if not addresses or refused:
        raise UrlRefused(
            f"The host {host!r} resolves to an address webhooks may not reach "
            f"({', '.join(refused) or 'none'}): only public addresses are allowed."
        )
    return Target(scheme, host, port, path, addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str]) -> Answer:
    """POST the body to the first checked address; any answer or failure is an Answer."""
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target.host, target.port, target.addresses[0], timeout)
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        raw = response.read(READ_LIMIT)
        status, error = response.status, ""
    except (OSError, http.client.HTTPException) as exc:
        raw, status = b"", None
        error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        connection.close()
    return Answer(
        status_code=status,
        excerpt=raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS],
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
