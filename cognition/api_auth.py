"""Who may call the JSON API: staff, by session or by ``Authorization: Bearer <token>``.

Tokens are ``cognition.models.ApiToken`` rows holding only the SHA-256 of the token, so a
leaked database does not leak working tokens. ``create_api_token`` makes one and returns the
raw token exactly once. Authenticating is a read, except that ``last_used_at`` is refreshed at
most once a minute (a conditional update), so polling monitors do not write on every request.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from cognition.models import ApiToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "pops_"
PREFIX_CHARS = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)

ViewFunc = Callable[..., HttpResponse]


class TokenRefused(ValueError):
    """The user may not hold an API token (not staff, or inactive)."""


def create_api_token(user: User, *, name: str = "") -> tuple[ApiToken, str]:
    """Issue a token for a staff ``user``; returns the row and the raw token (shown once)."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_staff", False):
        raise TokenRefused(
            f"User {user.get_username()!r} is not an active staff user; API tokens are for staff."
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:PREFIX_CHARS], token_hash=ApiToken.hash_token(raw)
    )
    logger.info("API token %s… created for %s", token.prefix, user.get_username())
    return token, raw


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" when the header is malformed,
    None when there is no Authorization header at all."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return ""
    return value.strip()


def authenticate_bearer(request: HttpRequest) -> User | None:
    """The active user owning the request's non-revoked bearer token, or None."""
    raw = bearer_token(request)
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return token.user


def _error(status: int, error: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": error, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="planner-ops"'
    return response


def _csrf_failure(request: HttpRequest) -> str | None:
    """Session-authenticated writes still need the CSRF token; bearer calls do not (a browser
    never sends the header on its own, so there is nothing to forge)."""
    check = CsrfViewMiddleware(lambda _request: HttpResponse())
    check.process_request(request)
    rejected = check.process_view(request, lambda _request: HttpResponse(), (), {})
    return None if rejected is None else "CSRF verification failed."


def staff_api_view(view: ViewFunc) -> ViewFunc:
    """Allow staff only: a staff session, or a valid bearer token of a staff user.

    No credentials → 401 JSON; a bad or revoked token → 401 JSON (even with a session, so a
    script never silently runs as whoever is logged in); a non-staff user → 403 JSON.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: User | AnonymousUser
        if bearer_token(request) is not None:
            token_user = authenticate_bearer(request)
            if token_user is None:
                return _error(401, "invalid_token", "The bearer token is invalid or revoked.")
            request.user = user = token_user
        else:
            user = request.user
            if not user.is_authenticated:
                return _error(
                    401,
                    "authentication_required",
                    "Log in as staff or send Authorization: Bearer <token>.",
                )
            if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
                reason = _csrf_failure(request)
                if reason:
                    return _error(403, "csrf_failed", reason)
        if not getattr(user, "is_staff", False):
            return _error(403, "forbidden", "Staff access is required.")
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)
