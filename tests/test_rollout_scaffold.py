"""startplanner: a planner scaffolded the runbook's way registers itself and passes its test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from planners.models.rollout import RolloutChecklist
from planners.rollouts.scaffold import PlannerNames, ScaffoldError

PROJECT_PARTS = ("cognition", "planners", "opsalerts", "templates", "static", "manage.py")


def test_planner_names_are_derived_from_what_was_typed() -> None:
    names = PlannerNames.from_name("Risk Review Planner")

    assert names.module == "risk_review"
    assert names.slug == "risk-review"
    assert names.class_name == "RiskReview"
    assert names.phase == "riskReview"
    assert names.template_id == "planner.riskReview"
    assert PlannerNames.from_name("riskReview") == names
    with pytest.raises(ScaffoldError, match="reserved"):
        PlannerNames.from_name("fiction")
    with pytest.raises(ScaffoldError, match="not a usable planner name"):
        PlannerNames.from_name("42")


@pytest.mark.django_db
def test_startplanner_writes_the_planner_and_opens_its_dev_checklist(tmp_path: Path) -> None:
    out = StringIO()
    call_command("startplanner", "risk_review", "--target", str(tmp_path), stdout=out)

    package = tmp_path / "planners" / "risk_review"
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "planner.py",
        "runner.py",
        "scripted_replies.py",
    ]
    planner_source = (package / "planner.py").read_text()
    assert "class RiskReviewPlanner(PlannerBase[RiskReviewParams]):" in planner_source
    assert "@register_planner" in planner_source
    assert (tmp_path / "tests" / "test_planner_risk_review.py").exists()
    checklist = RolloutChecklist.objects.get(planner_slug="risk-review")
    assert checklist.environment.name == "dev"
    assert "planners/risk_review/planner.py" in checklist.files_touched.splitlines()
    assert checklist.items.count() > 0
    assert "opened rollout checklist risk-review / dev" in out.getvalue()

    with pytest.raises(CommandError, match="Refusing to overwrite"):
        call_command("startplanner", "risk_review", "--target", str(tmp_path), stdout=out)


def test_startplanner_refuses_a_registered_slug(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="'vision' is already registered"):
        call_command("startplanner", "vision", "--target", str(tmp_path), stdout=StringIO())


def _project_copy(root: Path) -> Path:
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
    for name in ("__init__.py", "conftest.py"):
        shutil.copy2(base / "tests" / name, root / "tests" / name)
    return root


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VAR_DIR": str(project / "var"),
        "DATABASE_URL": f"sqlite:///{project / 'var' / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "CELERY_FILESYSTEM_BROKER_DIR": str(project / "var" / "broker"),
        "DEPLOY_ENVIRONMENT": "dev",
    }
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_scaffolded_planner_is_in_the_catalog_and_its_generated_test_passes(
    tmp_path: Path,
) -> None:
    project = _project_copy(tmp_path / "project")
    call_command(
        "startplanner", "risk_review", "--target", str(project), "--no-checklist", stdout=StringIO()
    )

    # A fresh process: the planner registers at start-up with no edit anywhere else.
    listed = _run(
        project,
        "manage.py",
        "shell",
        "-c",
        "from planners.framework.catalog import catalog; "
        "print(catalog.get('risk-review').metadata.template_ids, catalog.slugs())",
    )
    assert listed.returncode == 0, listed.stderr
    assert "('planner.riskReview',)" in listed.stdout
    assert "'vision'" in listed.stdout

    tested = _run(
        project,
        "-m",
        "pytest",
        "tests/test_planner_risk_review.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-migrations",
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "4 passed" in tested.stdout
