"""A copy of the project, run the way a user runs it: fresh processes of the copy with its
embedded defaults (a SQLite file and the filesystem broker under its ``var/``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROJECT_PARTS = ("cognition", "planners", "opsalerts", "templates", "static", "manage.py")
BIN = Path(sys.executable).parent


def copy_project(root: Path) -> Path:
    """The project's code, templates and static files, and the tests' fixtures, under ``root``."""
    base = Path(settings.BASE_DIR)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in PROJECT_PARTS:
        source = base / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=ignore)
        else:
            shutil.copy2(source, root / part)
    shutil.copy2(base / "pyproject.toml", root / "pyproject.toml")
    (root / "tests").mkdir()
    # The fixtures and the modules they build on (factories, fake servers, the worker), no tests.
    for source in (base / "tests").glob("*.py"):
        if not source.name.startswith("test_"):
            shutil.copy2(source, root / "tests" / source.name)
    shutil.copytree(base / "tests" / "factories", root / "tests" / "factories", ignore=ignore)
    return root


def copy_env(project: Path, **extra: str) -> dict[str, str]:
    """The environment of a process of the copy: its embedded defaults, nothing of this one's."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))},
        "VAR_DIR": str(project / "var"),
        "DATABASE_URL": f"sqlite:///{project / 'var' / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "CELERY_FILESYSTEM_BROKER_DIR": str(project / "var" / "broker"),
        "DEPLOY_ENVIRONMENT": "dev",
        **extra,
    }
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def run_in_copy(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in the copy (``manage.py …``, ``-m pytest …``), its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env or copy_env(project),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The output of a process that must have exited 0 (else its output, to see why)."""
    assert result.returncode == 0, f"{result.args}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout
