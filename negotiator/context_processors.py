from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, object]:
    """Values the navigation bar shows on every page."""
    match = getattr(request, "resolver_match", None)
    return {"nav_active": match.url_name if match else ""}
