"""Who may see the console: staff only.

Anonymous visitors are sent to the login page (for an HTMX request the whole page is redirected,
not the fragment, so an expired session never renders the login form inside a card);
authenticated users without staff status get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

ViewFunc = Callable[..., HttpResponse]


def staff_required(view: ViewFunc) -> ViewFunc:
    """Decorate a view so only active staff users reach it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if getattr(request, "htmx", False):
                page = request.headers.get("HX-Current-URL") or request.get_full_path()
                login = resolve_url("login")
                return HttpResponseClientRedirect(f"{login}?next={_path_only(page)}")
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The operations console is for staff users.")
        return view(request, *args, **kwargs)

    return wrapper


def _path_only(url: str) -> str:
    """Keep only the path and query of the page HTMX reports, so ``next`` stays on this site."""
    from urllib.parse import quote, urlsplit

    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return quote(path, safe="/?=&")
