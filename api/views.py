"""The API tokens page: a person's own tokens, making one (its secret shown once)
and revoking one. Login required (the site-wide middleware); the tokens are the
person's own, so there is nothing of a team here."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api.forms import RevokeForm, TokenForm
from api.models import ApiToken
from api.selectors.tokens import tokens_of
from api.services.tokens import token_create, token_revoke
from negotiator.services.errors import ServiceError


def _page(request: HttpRequest, form: TokenForm, *, secret: str = "", status: int = 200):
    context = {
        "form": form,
        "tokens": tokens_of(request.user),
        "new_secret": secret,
        "docs_url": "/api/docs",
    }
    return render(request, "api/tokens.html", context, status=status)


@never_cache  # the page may carry a new token's secret: no cache may keep it
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        token, secret = token_create(
            user=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
        )
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    messages.success(request, f"Token “{token.name}” made. Copy it now: it is not shown again.")
    # Rendered, not redirected: the secret exists only in this one answer.
    return _page(request, TokenForm(), secret=secret, status=201)


@require_POST
def token_revoke_view(request: HttpRequest) -> HttpResponse:
    form = RevokeForm(request.POST)
    if not form.is_valid():
        raise Http404("No such token.")
    # Someone else's token is missing here, exactly like one that does not exist.
    token = ApiToken.objects.filter(pk=form.cleaned_data["token"], user=request.user).first()
    if token is None:
        raise Http404("No such token.")
    token_revoke(token=token, user=request.user)
    messages.success(request, f"Token “{token.name}” ({token.prefix}…) revoked.")
    return redirect("api_tokens")
