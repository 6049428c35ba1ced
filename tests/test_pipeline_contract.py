"""What every pipeline offers from outside: listed by `pipelines`, run by `run_pipeline`, named
on the plan pages and in the diagnostics API; both families side by side on one backlog."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from cognition.agents.scripted import ScriptedAgent
from cognition.seeding import seed_planner_templates
from planners.models import PhaseTranscript, Plan

COMMITTED = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedAgent:
    agent = ScriptedAgent()
    monkeypatch.setattr("planners.tasks.get_agent_service", lambda backend=None: agent)
    return agent


def _run(*args: str) -> str:
    out = StringIO()
    call_command("run_pipeline", *args, "--poll", "0.01", "--timeout", "20", stdout=out)
    return out.getvalue()


def test_pipelines_lists_each_family_with_its_phases_planners_and_templates() -> None:
    out = StringIO()
    call_command("pipelines", "--json", stdout=out)

    listed = {p["slug"]: p for p in json.loads(out.getvalue())["pipelines"]}
    assert [(p["key"], p["planner"]) for p in listed["nonfiction"]["phases"]] == [
        ("brief", "brief"),
        ("outline", "outline"),
        ("sectionDraft", "section-draft"),
    ]
    assert listed["nonfiction"]["phases"][1]["creates"] == "sectionDraft"
    assert listed["fiction"]["phases"][0]["templates"] == ["planner.fiction.vision"]
    assert [p["key"] for p in listed["fiction"]["phases"]] == [
        "vision",
        "iterative",
        "chapterArchitect",
        "scrollRefiner",
        "sceneWeaver",
    ]
    text = StringIO()
    call_command("pipelines", stdout=text)
    assert "3. sectionDraft" in text.getvalue()
    assert "planner.nonfiction.sectionDraft" in text.getvalue()


@COMMITTED
@pytest.mark.usefixtures("eager_tasks")
def test_both_families_run_side_by_side_and_the_plan_infers_its_pipeline(
    scripted: ScriptedAgent, client: Client, staff_client: Client
) -> None:
    seed_planner_templates()
    fiction_out = _run("--wait", "--project", "The Lantern Archive")
    nonfiction_out = _run("--wait", "--pipeline", "nonfiction", "--project", "Grid Storage")

    fiction = Plan.objects.get(pipeline="fiction")
    nonfiction = Plan.objects.get(pipeline="nonfiction")
    assert (fiction.status, nonfiction.status) == ("complete", "complete")
    assert f"plan {fiction.pk} complete: 5 backlog items done." in fiction_out
    assert f"Created nonfiction plan {nonfiction.pk}" in nonfiction_out
    assert "sectionDraft" in nonfiction_out
    for transcript in PhaseTranscript.objects.filter(plan=nonfiction):
        assert transcript.metadata["pipeline"] == "nonfiction"
        assert transcript.metadata["backlogItemId"]

    # --plan runs that plan's own pipeline; a contradicting --pipeline is refused.
    again = _run("--plan", str(nonfiction.pk))
    assert "already complete" in again
    with pytest.raises(CommandError, match="runs the 'nonfiction' pipeline, not 'fiction'"):
        _run("--plan", str(nonfiction.pk), "--pipeline", "fiction")
    with pytest.raises(CommandError, match="Unknown pipeline 'poetry'; pipelines: fiction"):
        _run("--pipeline", "poetry")

    plans_page = staff_client.get(reverse("console:plans")).text
    assert "nonfiction" in plans_page
    plan_page = staff_client.get(reverse("console:plan", args=[nonfiction.pk])).text
    assert 'data-pipeline="nonfiction"' in plan_page
    assert "Start a fresh run" in plan_page
    report = staff_client.get("/api/diagnostics/planner").json()
    pipelines_by_plan = {p["id"]: p["pipeline"] for p in report["backlog"]["plans"]}
    assert pipelines_by_plan == {fiction.pk: "fiction", nonfiction.pk: "nonfiction"}


@COMMITTED
@pytest.mark.usefixtures("eager_tasks")
def test_run_on_a_complete_plan_page_starts_a_fresh_run(
    scripted: ScriptedAgent, staff_client: Client
) -> None:
    _run("--wait", "--pipeline", "nonfiction", "--project", "Grid Storage")
    plan = Plan.objects.get()

    response: Any = staff_client.post(reverse("console:run-pipeline", args=[plan.pk]))

    fresh = Plan.objects.exclude(pk=plan.pk).get()
    assert (fresh.pipeline, fresh.branch, fresh.project_id) == (
        "nonfiction",
        "run-2",
        plan.project_id,
    )
    assert response.status_code == 302
    assert response.url == reverse("console:plan", args=[fresh.pk])
    fresh.refresh_from_db()
    assert fresh.status == "complete"
