"""Prompt text with ``{{token}}`` placeholders: finding variables and strict rendering.

Strict means an unknown token, a token with no value, or a malformed placeholder is an error
that names it, never a prompt sent with a hole in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TOKEN_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_BRACES_RE = re.compile(r"\{\{|\}\}")


class TemplateError(ValueError):
    """The template text cannot be rendered with the given variables."""


def find_variables(text: str) -> list[str]:
    """The distinct ``{{token}}`` names in the order they first appear."""
    seen: dict[str, None] = {}
    for match in TOKEN_RE.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def check_text(text: str) -> None:
    """Raise ``TemplateError`` for empty text or ``{{``/``}}`` that are not placeholders."""
    if not text.strip():
        raise TemplateError("template text is empty")
    leftover = _BRACES_RE.findall(TOKEN_RE.sub("", text))
    if leftover:
        raise TemplateError(
            "template text has a malformed placeholder: every '{{' needs a name and a closing '}}'"
        )


def render_strict(
    text: str, variables: Mapping[str, object], *, allowed: set[str] | None = None
) -> str:
    """Replace every ``{{token}}``. ``allowed``, when given, is the set of tokens the caller
    knows; a token outside it is unknown even if a value happens to be present."""
    check_text(text)
    tokens = find_variables(text)
    unknown = [t for t in tokens if allowed is not None and t not in allowed]
    if unknown:
        raise TemplateError(f"unknown template token {{{{{unknown[0]}}}}}")
    missing = [t for t in tokens if t not in variables or variables[t] is None]
    if missing:
        raise TemplateError(f"missing value for template variable {{{{{missing[0]}}}}}")
    return TOKEN_RE.sub(lambda m: str(variables[m.group(1)]), text)
