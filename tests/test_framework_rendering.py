"""Template resolution: strict rendering of the active version, fallback when unusable."""

from __future__ import annotations

import pytest

from cognition.agents.scripted import ScriptedAgent
from planners.framework.context import PlannerContext
from planners.framework.result import PlannerOutcome, PlannerResult
from planners.models import PlannerExecution, TelemetryEvent
from tests.factories.templates import make_template
from tests.toy_planner import GOOD_REPLY, TOY_TEMPLATE, ToyPlanner, params

pytestmark = pytest.mark.django_db


def run(planner: ToyPlanner) -> tuple[PlannerResult, ScriptedAgent]:
    agent = ScriptedAgent({"vision": GOOD_REPLY})
    result = planner.plan(PlannerContext.create(agent, correlation_id="corr-render"), params())
    return result, agent


def test_active_version_is_rendered_with_its_version_recorded(toy: ToyPlanner) -> None:
    template = make_template(TOY_TEMPLATE, "v1 {{topic}}")
    version = template.versions.create(number=2, text="v2 about {{ topic }}", source="admin")
    template.active_version = version
    template.save()

    result, agent = run(toy)

    assert agent.calls[0][1][-1].content == "v2 about a lighthouse"
    assert (result.template_id, result.template_version, result.used_fallback) == (
        TOY_TEMPLATE,
        2,
        False,
    )
    assert PlannerExecution.objects.get().template_version == 2


def test_unknown_token_fails_the_run_naming_the_token(toy: ToyPlanner) -> None:
    make_template(TOY_TEMPLATE, "About {{topic}} for {{audience}}.")

    result, agent = run(toy)

    assert result.outcome == PlannerOutcome.FAILED
    assert "unknown template token {{audience}}" in result.error
    assert "planner.test.toyTitle" in result.error
    assert "version 1" in result.error
    assert agent.calls == []
    execution = PlannerExecution.objects.get()
    assert execution.outcome == "failed"
    assert "{{audience}}" in execution.error
    assert execution.template_version == 1
    assert list(TelemetryEvent.objects.values_list("name", flat=True)) == ["planner.failed"]


def test_missing_variable_value_fails_the_run_naming_it(
    toy: ToyPlanner, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_template(TOY_TEMPLATE, "About {{topic}} in {{words}} words.")
    monkeypatch.setattr(toy, "template_variables", lambda *a: {"topic": "ships"})

    result, agent = run(toy)

    assert result.outcome == PlannerOutcome.FAILED
    assert "missing value for template variable {{words}}" in result.error
    assert agent.calls == []


def test_malformed_placeholder_fails_the_run(toy: ToyPlanner) -> None:
    make_template(TOY_TEMPLATE, "About {{topic}} and {{ broken")

    result, _ = run(toy)

    assert result.outcome == PlannerOutcome.FAILED
    assert "malformed placeholder" in result.error


@pytest.mark.parametrize(
    ("case", "setup"),
    [
        ("missing", lambda: None),
        ("inactive", lambda: make_template(TOY_TEMPLATE, "Active? {{topic}}", active=False)),
        ("empty", lambda: make_template(TOY_TEMPLATE, "   \n")),
    ],
)
def test_unusable_template_falls_back_to_builtin_prompt(
    toy: ToyPlanner, case: str, setup: object
) -> None:
    setup()  # type: ignore[operator]

    result, agent = run(toy)

    assert result.outcome == PlannerOutcome.SUCCESS, case
    assert agent.calls[0][1][-1].content.startswith("Fallback: title a story about a lighthouse")
    assert result.used_fallback is True
    execution = PlannerExecution.objects.get()
    assert execution.used_fallback is True
    assert execution.template_id == TOY_TEMPLATE
    assert execution.template_version is None
    started = TelemetryEvent.objects.get(name="planner.started")
    assert started.payload["used_fallback"] is True
