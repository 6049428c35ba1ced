"""Critique budgets and quotas, read from ``settings.PLANNER_CRITIQUE`` / ``PLANNER_QUOTAS``.

Both settings are JSON objects ``{"default": {...}, "<planner slug>": {...}}``: a planner's own
entry overrides the default key by key. One rule for every limit: unset (or ``null``) means
unlimited; a value must be a positive whole number. Anything else (zero, negative, a string, a
boolean, an unknown key) is a configuration error reported by the ``planners`` system check at
start-up, and raised as ``PlannerLimitsError`` if a run ever meets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from planners.framework.errors import PlannerLimitsError

CRITIQUE_SETTING = "PLANNER_CRITIQUE"
QUOTAS_SETTING = "PLANNER_QUOTAS"

CRITIQUE_LIMIT_KEYS = ("max_total", "max_per_step", "max_tokens")
CRITIQUE_KEYS = ("enabled", *CRITIQUE_LIMIT_KEYS)
QUOTA_KEYS = ("max_iterations", "max_queued_jobs", "max_tokens")
DEFAULT_KEY = "default"


@dataclass(frozen=True)
class CritiqueBudget:
    """How much self-critique a planner may do in one run. ``None`` means unlimited, except that
    a critique loop with no count limit at all still stops after ``UNBOUNDED_CRITIQUE_ROUNDS``
    per step: an approving critic ends it sooner, and a model that never approves must not spend
    forever."""

    enabled: bool = False
    max_total: int | None = None
    max_per_step: int | None = None
    max_tokens: int | None = None


#: Safety stop for a critique loop configured with neither ``max_total`` nor ``max_per_step``.
UNBOUNDED_CRITIQUE_ROUNDS = 3


@dataclass(frozen=True)
class PlannerQuotas:
    """Admission limits for one run; ``None`` means unlimited."""

    max_iterations: int | None = None
    max_queued_jobs: int | None = None
    max_tokens: int | None = None


def _check_limit(setting: str, scope: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    # bool is an int subclass: "max_total": true must not read as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{setting}: {scope}.{key} must be a positive whole number or null, got {value!r}."
    if value <= 0:
        return (
            f"{setting}: {scope}.{key} must be a positive whole number (unset means unlimited),"
            f" got {value}."
        )
    return None


def _problems(
    setting: str,
    raw: Any,
    allowed_keys: Iterable[str],
    known_slugs: Iterable[str] | None,
) -> list[str]:
    allowed = tuple(allowed_keys)
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [f'{setting}: expected a JSON object like {{"default": {{...}}}}, got {raw!r}.']
    problems: list[str] = []
    known = set(known_slugs) if known_slugs is not None else None
    for scope, entry in raw.items():
        if known is not None and scope != DEFAULT_KEY and scope not in known:
            listed = ", ".join(sorted(known)) or "none registered"
            problems.append(
                f'{setting}: unknown planner {scope!r} (use "default" or a planner slug: {listed}).'
            )
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{setting}: {scope} must be a JSON object, got {entry!r}.")
            continue
        for key, value in entry.items():
            if key not in allowed:
                problems.append(
                    f"{setting}: unknown key {scope}.{key} (allowed: {', '.join(allowed)})."
                )
            elif key == "enabled":
                if not isinstance(value, bool):
                    problems.append(
                        f"{setting}: {scope}.enabled must be true or false, got {value!r}."
                    )
            else:
                problem = _check_limit(setting, scope, key, value)
                if problem:
                    problems.append(problem)
    return problems


def limit_problems(known_slugs: Iterable[str] | None = None) -> list[str]:
    """Every problem with both settings, each naming the variable and the key.

    ``known_slugs``, when given, also flags per-planner entries for slugs nobody registered (a
    typo there would otherwise silently leave that planner unlimited).
    """
    slugs = list(known_slugs) if known_slugs is not None else None
    return [
        *_problems(CRITIQUE_SETTING, _setting(CRITIQUE_SETTING), CRITIQUE_KEYS, slugs),
        *_problems(QUOTAS_SETTING, _setting(QUOTAS_SETTING), QUOTA_KEYS, slugs),
    ]


def _setting(name: str) -> Any:
    return getattr(settings, name, None)


def _merged(setting: str, allowed: tuple[str, ...], slug: str) -> dict[str, Any]:
    raw = _setting(setting)
    problems = _problems(setting, raw, allowed, None)
    if problems:
        raise PlannerLimitsError(problems)
    if not raw:
        return {}
    merged = dict(raw.get(DEFAULT_KEY) or {})
    merged.update(raw.get(slug) or {})
    return merged


def critique_budget_for(slug: str) -> CritiqueBudget:
    """The critique budget of planner ``slug`` (its entry over the default)."""
    merged = _merged(CRITIQUE_SETTING, CRITIQUE_KEYS, slug)
    return CritiqueBudget(
        enabled=bool(merged.get("enabled", False)),
        max_total=merged.get("max_total"),
        max_per_step=merged.get("max_per_step"),
        max_tokens=merged.get("max_tokens"),
    )


def quotas_for(slug: str) -> PlannerQuotas:
    """The quotas of planner ``slug`` (its entry over the default)."""
    merged = _merged(QUOTAS_SETTING, QUOTA_KEYS, slug)
    return PlannerQuotas(
        max_iterations=merged.get("max_iterations"),
        max_queued_jobs=merged.get("max_queued_jobs"),
        max_tokens=merged.get("max_tokens"),
    )
