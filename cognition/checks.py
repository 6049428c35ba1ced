"""The one system check of the configuration: every typed settings block, every problem.

``manage.py check`` reports it; the entry points stop earlier with the same problems as
``Configuration error:`` lines (``cognition.startup``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, register

from cognition.typed_settings import configuration_problems

CONFIGURATION_TAG = "configuration"


@register(CONFIGURATION_TAG, Tags.compatibility)
def check_configuration(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    return [
        Error(problem.message, hint="See README.md, Configuration.", id=problem.code)
        for problem in configuration_problems()
    ]
