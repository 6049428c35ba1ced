"""``manage.py planner_health``: the report for people and scripts, with meaningful exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from cognition.models import PromptTemplate
from planners.models import ContractDriftEvent, Plan, Project
from tests.factories.backlog import add_item, seed_templates

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan() -> Plan:
    project = Project.objects.create(title="The Salt Road")
    return Plan.objects.create(project=project, name="The Salt Road")


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("planner_health", *args, stdout=out, stderr=err, no_color=True)
    return int(exit_info.value.code or 0), out.getvalue(), err.getvalue()


def test_healthy_install_exits_0_with_a_summary() -> None:
    seed_templates()

    code, out, _ = run()

    assert code == 0
    assert "Planner health [dev]: HEALTHY" in out
    assert "INFO    planner:no-executions: No planner has run yet" in out
    assert "planner.fiction.vision v1" in out
    assert "Backlog: 0 item(s)" in out


def test_stale_item_exits_1_degraded(plan: Plan) -> None:
    seed_templates()
    add_item(plan, "outline-core-conflicts", status="in_progress", started_hours_ago=3)

    code, out, _ = run()

    assert code == 1
    assert "DEGRADED" in out
    assert "WARNING backlog:stale" in out


def test_missing_template_exits_2_critical() -> None:
    seed_templates()
    vision = PromptTemplate.objects.filter(name="planner.fiction.vision")
    vision.update(active_version=None)
    vision.delete()

    code, out, _ = run()

    assert code == 2
    assert "CRITICAL" in out
    assert "ERROR   template-missing:vision:vision-plan" in out
    assert "planner.fiction.vision missing" in out


def test_json_output_is_the_report(plan: Plan) -> None:
    seed_templates()
    item = add_item(plan, "outline-core-conflicts", status="failed")
    ContractDriftEvent.objects.create(item=item, plan=plan, requested={"model": "gpt-4o"})

    code, out, _ = run("--json", "--plan", str(plan.pk))

    data = json.loads(out)
    assert code == 1
    assert data["status"] == "degraded"
    assert data["plan_id"] == plan.pk
    assert [a["id"] for a in data["alerts"]] == ["backlog:contract-drift", "planner:no-executions"]


def test_unknown_plan_exits_3_with_a_message() -> None:
    code, out, err = run("--plan", "4242")

    assert code == 3
    assert out == ""
    assert "No plan with id 4242." in err


def test_non_numeric_plan_exits_3_not_2() -> None:
    code, _, err = run("--plan", "salt-road")

    assert code == 3
    assert "--plan must be a whole number, got 'salt-road'." in err
