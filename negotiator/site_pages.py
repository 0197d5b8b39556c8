"""The product's own 403 and 404 pages (also when DEBUG is on) and its favicon.

Django shows its technical 404 page (and a bare 403 for some paths) when DEBUG is
on; a person who follows a link they may not open should see the same styled page
in development as in production. The REST API and the A2A door keep their JSON errors.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

_MACHINE_PREFIXES = ("/api/", "/a2a", "/.well-known/", "/admin/")


class ErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not settings.DEBUG or request.path.startswith(_MACHINE_PREFIXES):
            return None  # production: Django's handlers render 403.html / 404.html
        if isinstance(exception, PermissionDenied):
            return render(request, "403.html", {"exception": str(exception)}, status=403)
        if isinstance(exception, Http404):
            return render(request, "404.html", {"exception": ""}, status=404)
        return None


@login_not_required
@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on every page: the SVG mark (every
    current browser draws an SVG icon, whatever the path says)."""
    path = finders.find("img/favicon.svg")
    with open(path, "rb") as handle:
        return HttpResponse(handle.read(), content_type="image/svg+xml")
