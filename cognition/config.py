"""Configuration problems, and strict readers for environment variables.

django-environ parses URLs well but is lenient with scalars (``DEBUG=maybe`` reads as false).
Every reader on ``Environment`` returns a valid value or records a ``Problem`` naming the
variable and falls back to the default, so ``settings.py`` reads every variable and then stops
with every problem at once (``Environment.stop_if_invalid``). Entry points print a
``ConfigurationError`` as ``Configuration error: VAR: problem`` lines (``cognition.startup``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}
SETTINGS_PROBLEM = "cognition.E001"


@dataclass(frozen=True)
class Problem:
    """One configuration mistake: ``message`` names the variable first (``VAR: what is wrong``);
    ``code`` is the system-check id."""

    message: str
    code: str = SETTINGS_PROBLEM


class ConfigurationError(ImproperlyConfigured):
    """Every problem found while loading the configuration, one ``VAR: problem`` line each."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problem.message for problem in self.problems))


def parse_bool(text: str) -> bool | None:
    """``true``/``false`` in the spellings people use; ``None`` for anything else."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def database_config(name: str, value: str) -> tuple[dict[str, Any] | None, str | None]:
    """Django's ``DATABASES`` entry for a URL, or the problem with it."""
    scheme = urlsplit(value).scheme
    if scheme not in _DATABASE_SCHEMES:
        return None, f"{name}: expected a sqlite:// or postgres:// URL, got scheme {scheme!r}."
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:  # django-environ raises several types for bad URLs
        return None, f"{name}: cannot parse database URL ({exc})."
    if not config.get("ENGINE"):
        return None, f"{name}: unsupported database URL scheme in {value!r}."
    return config, _sqlite_folder_problem(name, config)


def _sqlite_folder_problem(name: str, config: dict[str, Any]) -> str | None:
    # SQLite creates the file on first use but not its folder; without this the first query
    # fails with "unable to open database file", which names neither the variable nor the path.
    path = str(config.get("NAME") or "")
    if config["ENGINE"] != "django.db.backends.sqlite3" or path in {"", ":memory:"}:
        return None
    folder = Path(path).parent
    if folder.is_dir():
        return None
    return f"{name}: the folder of the SQLite database {path} does not exist ({folder})."


class Environment:
    """Reads variables from ``os.environ``, collecting every problem instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def refuse(self, message: str) -> None:
        self.problems.append(Problem(message))

    def stop_if_invalid(self) -> None:
        if self.problems:
            raise ConfigurationError(self.problems)

    def raw(self, name: str) -> str | None:
        value = os.environ.get(name)
        return None if value is None else value.strip()

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None else value

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        parsed = parse_bool(value)
        if parsed is None:
            self.refuse(f"{name}: expected true or false, got {value!r}.")
            return default
        return parsed

    def whole_number(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            self.refuse(f"{name}: expected a whole number, got {value!r}.")
            return default
        if minimum is not None and number < minimum:
            self.refuse(f"{name}: must be at least {minimum}, got {number}.")
            return default
        if maximum is not None and number > maximum:
            self.refuse(f"{name}: must be at most {maximum}, got {number}.")
            return default
        return number

    def optional_whole_number(self, name: str, *, minimum: int) -> int | None:
        """A whole number of at least ``minimum``, or None when unset or empty (no limit)."""
        value = self.raw(name)
        if value is None or value == "":
            return None
        return self.whole_number(name, minimum, minimum=minimum)

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            self.refuse(f"{name}: expected a number, got {value!r}.")
            return default
        if minimum is not None and number < minimum:
            self.refuse(f"{name}: must be at least {minimum}, got {number}.")
            return default
        return number

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        allowed = list(choices)
        value = self.text(name, default).lower()
        if value not in allowed:
            self.refuse(f"{name}: expected one of {', '.join(allowed)}, got {value!r}.")
            return default
        return value

    def items(self, name: str, default: Iterable[str] = ()) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [part.strip() for part in value.split(",") if part.strip()]

    def url(self, name: str, default: str = "") -> str:
        """An http(s) URL, or the empty string when unset."""
        value = self.text(name, default)
        parts = urlsplit(value)
        if value and (parts.scheme not in {"http", "https"} or not parts.netloc):
            self.refuse(f"{name}: expected an http:// or https:// URL, got {value!r}.")
            return default.rstrip("/")
        return value.rstrip("/")

    def json_value(self, name: str, default: Any) -> Any:
        """Raw JSON; its shape is checked by the settings block that owns it."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            self.refuse(f"{name}: not valid JSON ({exc.msg} at char {exc.pos}).")
            return default

    def database(self, name: str, default: str) -> dict[str, Any]:
        config, problem = database_config(name, self.text(name, default))
        if problem:
            self.refuse(problem)
        if config is None:
            config, _ = database_config(name, default)
        assert config is not None, "the default database URL parses"
        return config
