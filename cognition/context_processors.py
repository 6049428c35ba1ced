from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from cognition.build import build_info


def console(request: HttpRequest) -> dict[str, Any]:
    """Values every console page shows: the deployment's environment, its build and the
    refresh period."""
    return {
        "app_build": build_info(),
        "deploy_environment": settings.DEPLOY_ENVIRONMENT,
        "console_refresh_seconds": settings.CONSOLE_REFRESH_SECONDS,
    }
