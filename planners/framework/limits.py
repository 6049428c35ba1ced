"""Critique budgets and quotas: ``settings.PLANNER_CRITIQUE`` / ``PLANNER_QUOTAS``, typed.

Both settings are JSON objects ``{"default": {...}, "<planner slug>": {...}}``: a planner's own
entry overrides the default key by key. One rule for every limit: unset (or ``null``) means
unlimited; a value must be a positive whole number. Anything else (zero, negative, a string, a
boolean, an unknown key, a slug no planner registered) is a configuration error reported at
start-up (``cognition.typed_settings``), and raised as ``PlannerLimitsError`` if a run ever
meets it. Each setting is one typed settings block, parsed once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cognition.config import Problem
from cognition.typed_settings import SettingsModel, TypedSettings, refuse
from planners.framework.errors import PlannerLimitsError

CRITIQUE_SETTING = "PLANNER_CRITIQUE"
QUOTAS_SETTING = "PLANNER_QUOTAS"

CRITIQUE_LIMIT_KEYS = ("max_total", "max_per_step", "max_tokens")
CRITIQUE_KEYS = ("enabled", *CRITIQUE_LIMIT_KEYS)
QUOTA_KEYS = ("max_iterations", "max_queued_jobs", "max_tokens")
DEFAULT_KEY = "default"
CRITIQUE_PROBLEM = "planners.E001"
QUOTAS_PROBLEM = "planners.E002"


class CritiqueBudget(BaseModel):
    """How much self-critique a planner may do in one run. ``None`` means unlimited, except that
    a critique loop with no count limit at all still stops after ``UNBOUNDED_CRITIQUE_ROUNDS``
    per step: an approving critic ends it sooner, and a model that never approves must not spend
    forever."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    max_total: int | None = None
    max_per_step: int | None = None
    max_tokens: int | None = None


#: Safety stop for a critique loop configured with neither ``max_total`` nor ``max_per_step``.
UNBOUNDED_CRITIQUE_ROUNDS = 3


class PlannerQuotas(BaseModel):
    """Admission limits for one run; ``None`` means unlimited."""

    model_config = ConfigDict(frozen=True)

    max_iterations: int | None = None
    max_queued_jobs: int | None = None
    max_tokens: int | None = None


Limits = TypeVar("Limits", CritiqueBudget, PlannerQuotas)


def _limit_problem(setting: str, scope: str, key: str, value: Any) -> str | None:
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


def _value_problem(
    setting: str, scope: str, key: str, value: Any, allowed: tuple[str, ...]
) -> str | None:
    if key not in allowed:
        return f"{setting}: unknown key {scope}.{key} (allowed: {', '.join(allowed)})."
    if key == "enabled":
        if isinstance(value, bool):
            return None
        return f"{setting}: {scope}.enabled must be true or false, got {value!r}."
    return _limit_problem(setting, scope, key, value)


def _entries(
    setting: str, raw: Any, model: type[Limits], code: str, info: ValidationInfo
) -> dict[str, Limits]:
    """Every well-formed entry (its valid keys only), each problem refused on the way."""
    allowed = tuple(model.model_fields)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as exc:
            refuse(info, f"{setting}: not valid JSON ({exc.msg} at char {exc.pos}).", code)
            return {}
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        message = f'{setting}: expected a JSON object like {{"default": {{...}}}}, got {raw!r}.'
        refuse(info, message, code)
        return {}
    entries: dict[str, Limits] = {}
    for scope, entry in raw.items():
        if not isinstance(entry, Mapping):
            refuse(info, f"{setting}: {scope} must be a JSON object, got {entry!r}.", code)
            continue
        valid = {}
        for key, value in entry.items():
            problem = _value_problem(setting, scope, key, value, allowed)
            if problem:
                refuse(info, problem, code)
            else:
                valid[key] = value
        entries[str(scope)] = model(**valid)
    return entries


def _merged(entries: Mapping[str, Limits], model: type[Limits], slug: str) -> Limits:
    """A planner's entry over the default, key by key (only keys that were set)."""
    merged: dict[str, Any] = {}
    for scope in (DEFAULT_KEY, slug):
        if scope in entries:
            merged.update(entries[scope].model_dump(exclude_unset=True))
    return model(**merged)


class CritiqueSettings(SettingsModel):
    """``PLANNER_CRITIQUE``: the critique budget of each planner."""

    by_planner: dict[str, CritiqueBudget] = Field(default_factory=dict, alias="PLANNER_CRITIQUE")

    @field_validator("by_planner", mode="before")
    @classmethod
    def _by_planner(cls, raw: Any, info: ValidationInfo) -> dict[str, CritiqueBudget]:
        return _entries(CRITIQUE_SETTING, raw, CritiqueBudget, CRITIQUE_PROBLEM, info)


class QuotaSettings(SettingsModel):
    """``PLANNER_QUOTAS``: the admission quotas of each planner."""

    by_planner: dict[str, PlannerQuotas] = Field(default_factory=dict, alias="PLANNER_QUOTAS")

    @field_validator("by_planner", mode="before")
    @classmethod
    def _by_planner(cls, raw: Any, info: ValidationInfo) -> dict[str, PlannerQuotas]:
        return _entries(QUOTAS_SETTING, raw, PlannerQuotas, QUOTAS_PROBLEM, info)


def _unknown_planners(
    setting: str, scopes: Iterable[str], code: str, known_slugs: Iterable[str]
) -> list[Problem]:
    """A per-planner entry for a slug nobody registered: a typo there would otherwise silently
    leave that planner unlimited."""
    known = set(known_slugs)
    listed = ", ".join(sorted(known)) or "none registered"
    return [
        Problem(
            f'{setting}: unknown planner {scope!r} (use "default" or a planner slug: {listed}).',
            code,
        )
        for scope in scopes
        if scope != DEFAULT_KEY and scope not in known
    ]


critique_settings = TypedSettings(CritiqueSettings, code=CRITIQUE_PROBLEM)
quota_settings = TypedSettings(QuotaSettings, code=QUOTAS_PROBLEM)


def require_registered_planners(known_slugs: Callable[[], Iterable[str]]) -> None:
    """At start-up, also flag entries for slugs nobody registered. The catalog's list is passed
    in (``PlannersConfig.ready``): the catalog imports the planner base, which reads the limits.
    """
    critique_settings.start_up_checks = lambda block: _unknown_planners(
        CRITIQUE_SETTING, block.by_planner, CRITIQUE_PROBLEM, known_slugs()
    )
    quota_settings.start_up_checks = lambda block: _unknown_planners(
        QUOTAS_SETTING, block.by_planner, QUOTAS_PROBLEM, known_slugs()
    )


def limit_problems(known_slugs: Iterable[str] | None = None) -> list[str]:
    """Every problem with both settings, each naming the variable and the key.

    ``known_slugs``, when given, also flags per-planner entries for slugs nobody registered.
    """
    critique, quotas = critique_settings.parse(), quota_settings.parse()
    problems = [*critique.problems, *quotas.problems]
    if known_slugs is not None:
        slugs = list(known_slugs)
        problems += _unknown_planners(
            CRITIQUE_SETTING, critique.value.by_planner, CRITIQUE_PROBLEM, slugs
        )
        problems += _unknown_planners(
            QUOTAS_SETTING, quotas.value.by_planner, QUOTAS_PROBLEM, slugs
        )
    return [problem.message for problem in problems]


def critique_budget_for(slug: str) -> CritiqueBudget:
    """The critique budget of planner ``slug`` (its entry over the default)."""
    parsed = critique_settings.parse()
    if parsed.problems:
        raise PlannerLimitsError([problem.message for problem in parsed.problems])
    return _merged(parsed.value.by_planner, CritiqueBudget, slug)


def quotas_for(slug: str) -> PlannerQuotas:
    """The quotas of planner ``slug`` (its entry over the default)."""
    parsed = quota_settings.parse()
    if parsed.problems:
        raise PlannerLimitsError([problem.message for problem in parsed.problems])
    return _merged(parsed.value.by_planner, PlannerQuotas, slug)
