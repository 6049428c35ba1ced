"""Rollout commands: verify_rollout, rollout_status, rollout_note and evidence export/import."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction

from cognition.build import package_version
from planners.models.rollout import ItemStatus, RolloutChecklist, SignOff
from planners.rollouts import actions
from tests.factories.rollouts import (
    EVIDENCE_KEY,
    PLANNER,
    make_live_evidence,
    pass_manual_items,
    signed_off_dev,
)

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_verify_rollout_passes_on_live_evidence_and_records_the_command(settings: Any) -> None:
    make_live_evidence(settings)

    output = run("verify_rollout", PLANNER)

    assert "Rollout checks for vision / dev:" in output
    assert output.count("PASS") == 6
    item = RolloutChecklist.objects.get(planner_slug=PLANNER).items.get(key="scripted-pipeline")
    assert (item.status, item.checked_via, item.checked_by) == (
        "passed",
        "command",
        "verify_rollout",
    )


def test_verify_rollout_fails_with_the_reasons_when_evidence_is_missing() -> None:
    with pytest.raises(CommandError, match="5 of 6 checks failed"):
        run("verify_rollout", PLANNER)


def test_verify_rollout_names_known_planners_for_a_typo() -> None:
    with pytest.raises(CommandError, match=r"known planners: .*vision"):
        run("verify_rollout", "visoin")


def test_rollout_status_prints_the_matrix(staff_user: User, settings: Any) -> None:
    signed_off_dev(staff_user, settings)
    actions.get_or_create_checklist(PLANNER, "staging")

    output = run("rollout_status")

    header, *rows = output.splitlines()
    assert header.split() == ["PLANNER", "DEV", "STAGING", "PRODUCTION"]
    vision = next(r for r in rows if r.startswith("vision "))
    assert f"signed off {dt.date.today():%Y-%m-%d} by olivia" in vision
    assert "not started (0/" in vision
    assert vision.rstrip().endswith("not started")
    assert any(r.startswith("scene-weaver") for r in rows)
    data = json.loads(run("rollout_status", "--json"))
    assert data["vision"]["dev"]["status"] == "signed_off"
    assert data["vision"]["production"]["status"] == "not_started"


def test_rollout_note_is_the_step_note_from_the_records(settings: Any, staff_user: User) -> None:
    make_live_evidence(settings)
    checklist, _ = actions.get_or_create_checklist(PLANNER, "dev", actor="olivia")
    pass_manual_items(checklist)
    checklist.files_touched = "planners/fiction/vision.py\ntests/test_fiction_runners.py"
    checklist.follow_ups = "Tune the vision critique budget"
    checklist.save()
    item = checklist.items.get(key="console-telemetry")
    actions.attach_evidence(item, actor="olivia", link="https://wiki.example.test/shot-1")
    actions.mark_item(
        checklist.items.get(key="docs-updated"),
        status=ItemStatus.WAIVED,
        actor="rita",
        waiver_reason="Docs ship with the next release.",
    )
    settings.APP_BUILD = "3f9c2e1"
    run("verify_rollout", PLANNER)
    actions.sign_off(
        checklist, owner=staff_user, deployment_date=dt.date(2026, 11, 26), note="All green."
    )

    note = run("rollout_note", PLANNER, "dev")

    assert note.startswith("# Step note: Vision Planner (`vision`) rollout to dev\n")
    assert "[`docs/planner-rollout-runbook.md`](docs/planner-rollout-runbook.md#3-roll-out" in note
    assert f"- App build signed off: version {package_version()}, build 3f9c2e1" in note
    assert "- Prompt templates in force: `planner.fiction.vision` v1" in note
    assert "- Model: scripted" in note
    assert (
        "- Watch ([runbook section 4](docs/planner-rollout-runbook.md#4-watch-period)): watching"
        in note
    )
    assert (
        "### 3.2 Database & seeder ([runbook](docs/planner-rollout-runbook.md#32-database--seeder))"
        in note
    )
    assert "  - Waiver: Docs ship with the next release." in note
    assert "- Status: **Signed off**" in note
    assert "## Commands and checks run" in note
    assert "`python manage.py verify_rollout vision`" in note
    assert "template_seeded passed" in note
    assert "- [x] **Prompt template seeded and available in tests.**" in note
    assert "<https://wiki.example.test/shot-1>" in note
    assert "## System evidence snapshots" in note
    assert '"check": "pipeline_run_completed"' in note
    assert "- `planners/fiction/vision.py`" in note
    assert "- Tune the vision critique budget" in note
    assert "- Legacy code scheduled for cleanup once rollout is stable. (pending)" in note
    assert "Monitor planner health dashboards" in note
    assert "- Owner: olivia\n- Deployment date: 2026-11-26" in note
    assert "- Note: All green." in note


def test_rollout_note_for_an_unsigned_checklist_says_why_not(staff_user: User) -> None:
    actions.get_or_create_checklist(PLANNER, "staging")

    note = run("rollout_note", PLANNER, "staging")

    assert "Not signed off yet. Refused until:" in note
    assert "- dev must be signed off for vision before staging" in note


def test_rollout_note_without_a_checklist_is_an_error() -> None:
    with pytest.raises(CommandError, match="No rollout checklist for vision in production"):
        run("rollout_note", PLANNER, "production")


@pytest.mark.parametrize(
    ("planner", "environment", "error"),
    [
        (PLANNER, "qa", r"Unknown environment 'qa'; environments: dev, staging, production\."),
        ("visoin", "dev", r"Unknown planner slug 'visoin'; known planners: .*vision"),
    ],
)
def test_rollout_note_names_an_unknown_planner_or_environment(
    planner: str, environment: str, error: str
) -> None:
    with pytest.raises(CommandError, match=error):
        run("rollout_note", planner, environment)


class _OtherDeployment(Exception):
    pass


def test_export_and_import_commands_round_trip(
    tmp_path: Path, settings: Any, staff_user: User
) -> None:
    evidence = tmp_path / "vision-dev.json"
    try:
        with transaction.atomic():  # the dev deployment's database
            settings.ROLLOUT_EVIDENCE_KEY = EVIDENCE_KEY
            signed_off_dev(staff_user, settings)
            evidence.write_text(run("export_rollout_evidence", PLANNER))
            raise _OtherDeployment
    except _OtherDeployment:
        pass
    assert json.loads(evidence.read_text())["environment"] == "dev"
    settings.DEPLOY_ENVIRONMENT = "staging"

    with pytest.raises(CommandError, match="cannot go into vision / staging"):
        run("import_rollout_evidence", str(evidence), "--into", "vision/staging")
    assert not SignOff.objects.exists()

    output = run("import_rollout_evidence", str(evidence), "--into", "vision/dev")

    assert "Imported evidence into vision / dev (signed off); watch: watching." in output
    dev = RolloutChecklist.objects.get(planner_slug=PLANNER, environment__name="dev")
    assert dev.items.get(key="docs-updated").status == ItemStatus.PASSED
    assert SignOff.objects.get(checklist=dev).imported_from == "dev"


def test_export_without_a_checklist_here_is_an_error() -> None:
    with pytest.raises(CommandError, match="No rollout checklist for vision in dev"):
        run("export_rollout_evidence", PLANNER)


def test_import_of_unreadable_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_rollout_evidence", str(bad))
