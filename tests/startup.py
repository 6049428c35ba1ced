"""Start Django in a fresh process with a given environment, as the web process and the
worker do, to see whether the settings accept it."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

CHECK = (
    "from cognition.startup import start; start(); "
    "from django.conf import settings; print(settings.DEBUG)"
)


def start_with(check: str = CHECK, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``check`` (by default: start as every entry point does, ``cognition.startup.start``,
    and print ``DEBUG``) under this environment, with none of this process's ``DJANGO_``,
    ``OPS_``, ``CELERY_``, ``DATABASE_``, ``PORT`` or ``PUBLIC_BASE_URL`` settings."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "OPS_", "CELERY_", "DATABASE_"))
        and k not in {"PORT", "PUBLIC_BASE_URL"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="cognition.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", check],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
