"""URLs the console's cards link to, reversed without a query."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse


def admin_url(name: str, *args: Any, query: str = "") -> str:
    """An admin URL, or "" when that model is not registered (another area may not be ready)."""
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{query}" if query else url
