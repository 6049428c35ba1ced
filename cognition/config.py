"""Strict readers for environment variables.

django-environ parses URLs well but is lenient with scalars (``DEBUG=maybe`` reads as false).
Every reader here either returns a valid value or raises ``ImproperlyConfigured`` naming the
variable and what is wrong with it, so a bad deployment stops at start-up instead of running
with a silently wrong setting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}.")
    return number


def env_optional_int(name: str, *, minimum: int) -> int | None:
    """A whole number of at least ``minimum``, or None when unset or empty (no limit)."""
    value = _raw(name)
    if value is None or value == "":
        return None
    return env_int(name, minimum, minimum=minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a number, got {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}.")
    return number


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    value = env_str(name, default).lower()
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(allowed)}, got {value!r}.")
    return value


def env_list(name: str, default: Iterable[str] = ()) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [part.strip() for part in value.split(",") if part.strip()]


def env_url(name: str, default: str = "") -> str:
    """An http(s) URL, or the empty string when unset."""
    value = env_str(name, default)
    if value and (urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc):
        raise ImproperlyConfigured(f"{name}: expected an http:// or https:// URL, got {value!r}.")
    return value.rstrip("/")


def env_json(name: str, default: Any) -> Any:
    """Raw JSON; its shape is checked by whoever owns the setting (see the system checks)."""
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(
            f"{name}: not valid JSON ({exc.msg} at char {exc.pos})."
        ) from None


def env_database(name: str, default: str) -> dict[str, Any]:
    value = env_str(name, default)
    scheme = urlsplit(value).scheme
    if scheme not in _DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}: expected a sqlite:// or postgres:// URL, got scheme {scheme!r}."
        )
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # django-environ raises several types for bad URLs
        raise ImproperlyConfigured(f"{name}: cannot parse database URL ({exc}).") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"{name}: unsupported database URL scheme in {value!r}.")
    return config
