"""URLs the console's cards link to, reversed without a query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import NoReverseMatch, reverse


def admin_url(name: str, *args: Any, query: str = "") -> str:
    """An admin URL, or "" when that model is not registered (another area may not be ready)."""
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{query}" if query else url


# A pk no row has: each per-row URL is reversed once per page and the pk put in per row.
_PK_PLACEHOLDER = 9876543210


def url_for_pk(name: str) -> Callable[[int], str]:
    """``reverse(name, args=[pk])`` for many pks at the cost of one reversal (URL patterns of
    the console take any integer pk)."""
    pattern = reverse(name, args=[_PK_PLACEHOLDER])
    return lambda pk: pattern.replace(str(_PK_PLACEHOLDER), str(int(pk)))
