"""System check: ``manage.py check``, the web server, the worker and beat refuse bad settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register

from opsalerts.config import parse_ops_alerting


@register("opsalerts")
def check_ops_alerting_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    return [
        Error(problem.message, hint="See `manage.py check_ops_alerting`.", id=problem.code)
        for problem in parse_ops_alerting()[1]
    ]
