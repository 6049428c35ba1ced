"""Typed settings blocks: one pydantic model per block of related settings, parsed once.

A block's model reads its variables from ``django.conf.settings`` (each field's alias is the
setting's name). Validators do not stop at the first mistake: they add a ``Problem`` naming the
variable to the validation context and fall back to the default, so one parse reports every
problem and still yields a usable object. Rules between fields live in an ``after`` model
validator and report the same way.

Blocks register themselves when their module is imported (each app's ``ready()`` imports its
own), so the one system check (``cognition.checks``) and the one start-up guard
(``cognition.startup``) validate every block without importing the apps above them. A parsed
block is cached until a setting changes (``override_settings`` and the ``settings`` fixture send
``setting_changed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo

from cognition.config import ConfigurationError, Problem


class SettingsModel(BaseModel):
    """Base of every block: immutable, fields named by attribute or by setting."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def setting_name(cls, field_name: str) -> str:
        return cls.model_fields[field_name].alias or field_name

    @classmethod
    def setting_names(cls) -> list[str]:
        return [cls.setting_name(name) for name in cls.model_fields]


def refuse(info: ValidationInfo, message: str, code: str) -> None:
    """Record a problem during a block's parse; ``message`` starts with the variable."""
    if not isinstance(info.context, dict) or "problems" not in info.context:
        raise ValueError(message)  # validated outside TypedSettings: fail like pydantic would
    info.context["problems"].append(Problem(message, code))


Block = TypeVar("Block", bound=SettingsModel)


@dataclass(frozen=True)
class Parsed(Generic[Block]):
    value: Block
    problems: tuple[Problem, ...]


class TypedSettings(Generic[Block]):
    """One block of settings: parse once, cache, and say what is wrong with it.

    ``start_up_checks`` are rules that need the apps loaded (a planner slug must be
    registered): the system check and the start-up guard run them, runtime reads do not.
    """

    def __init__(
        self,
        model: type[Block],
        *,
        code: str,
        start_up_checks: Callable[[Block], list[Problem]] | None = None,
    ) -> None:
        self.model = model
        self.code = code
        self.start_up_checks = start_up_checks
        self._parsed: Parsed[Block] | None = None
        _blocks.append(self)

    def get(self) -> Block:
        return self.parse().value

    def parse(self) -> Parsed[Block]:
        if self._parsed is None:
            self._parsed = self._parse()
        return self._parsed

    def problems(self) -> list[Problem]:
        """Every problem, including the start-up checks."""
        parsed = self.parse()
        extra = self.start_up_checks(parsed.value) if self.start_up_checks else []
        return [*parsed.problems, *extra]

    def clear(self) -> None:
        self._parsed = None

    def _parse(self) -> Parsed[Block]:
        raw = {
            name: getattr(settings, name)
            for name in self.model.setting_names()
            if hasattr(settings, name)
        }
        problems: list[Problem] = []
        try:
            value = self.model.model_validate(raw, context={"problems": problems})
        except ValidationError as error:
            # A value no validator of the block handles by hand (pydantic's own type check).
            problems.extend(self._problem(detail) for detail in error.errors())
            value = self.model.model_validate({}, context={"problems": []})
        return Parsed(value, tuple(problems))

    def _problem(self, detail: Any) -> Problem:
        where = detail["loc"][0] if detail["loc"] else self.model.__name__
        return Problem(f"{where}: {detail['msg']}.", self.code)


_blocks: list[TypedSettings[Any]] = []


def configuration_problems() -> list[Problem]:
    """Every problem of every registered block, in registration order."""
    return [problem for block in _blocks for problem in block.problems()]


def validate_configuration() -> None:
    """Raise ``ConfigurationError`` with every problem of every block."""
    problems = configuration_problems()
    if problems:
        raise ConfigurationError(problems)


def _clear_blocks(**kwargs: Any) -> None:
    for block in _blocks:
        block.clear()


setting_changed.connect(_clear_blocks, dispatch_uid="cognition.typed_settings.clear")
