"""startplanner: a planner scaffolded the runbook's way registers itself and its pipeline and
passes its generated test, with no edit anywhere outside the files it wrote.

The end-to-end test works on a copy of the project run the way a user runs it
(``tests/project_copy.py``); running scaffolded planners on a real worker of a copy and passing
their rollout checks is ``test_rollout_scaffold_deployment.py``.
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from planners.models.rollout import RolloutChecklist
from planners.pipeline.registry import Pipeline, pipelines
from planners.rollouts.scaffold import PlannerNames, ScaffoldError
from tests.project_copy import BIN, copy_project, run_in_copy, succeeded

# --- names, refusals and the files written ---------------------------------------------------


def test_planner_names_are_derived_from_what_was_typed() -> None:
    names = PlannerNames.from_name("Risk Review Planner")

    assert names.module == "risk_review"
    assert names.slug == "risk-review"
    assert names.class_name == "RiskReview"
    assert names.phase == "riskReview"
    assert names.template_id == "planner.riskReview"
    assert PlannerNames.from_name("riskReview") == names
    assert PlannerNames.from_name("risk-review") == names
    with pytest.raises(ScaffoldError, match="reserved"):
        PlannerNames.from_name("fiction")
    with pytest.raises(ScaffoldError, match="not a usable planner name"):
        PlannerNames.from_name("42")
    with pytest.raises(ScaffoldError, match="too long"):
        PlannerNames.from_name("Quarterly Market Research Brief")


@pytest.mark.parametrize("name", ["../x", "a/b", "x/../y", "risk.review", "risk review!", ""])
def test_names_that_are_not_words_are_refused_in_one_line(name: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("startplanner", name, "--target", str(tmp_path), stdout=StringIO())

    assert str(refused.value) == (
        f"{name!r} is not a usable planner name: use letters, digits, spaces, - and _ only "
        "(e.g. risk_review)."
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["pipeline", "nonfiction", "tasks", "class"])
def test_reserved_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=f"^'{name}' is reserved; choose another planner name"):
        call_command("startplanner", name, "--target", str(tmp_path), stdout=StringIO())


def test_startplanner_refuses_a_registered_slug(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="'vision' is already registered"):
        call_command("startplanner", "vision", "--target", str(tmp_path), stdout=StringIO())


def test_startplanner_refuses_the_slug_of_a_registered_pipeline(tmp_path: Path) -> None:
    field_notes = Pipeline(slug="field-notes", name="Field notes", description="", phases=())
    with (
        pipelines.registered(field_notes),
        pytest.raises(CommandError, match="A pipeline with slug 'field-notes' is already"),
    ):
        call_command("startplanner", "Field Notes", "--target", str(tmp_path), stdout=StringIO())


def test_unknown_pipeline_or_phase_is_refused_naming_what_exists(tmp_path: Path) -> None:
    def scaffold(*args: str) -> None:
        call_command("startplanner", "fact_check", *args, "--target", str(tmp_path))

    with pytest.raises(CommandError, match=r"Unknown pipeline 'essay'; registered pipelines: "):
        scaffold("--pipeline", "essay")
    with pytest.raises(
        CommandError,
        match=r"^Pipeline 'nonfiction' has no phase 'draft'; its phases: brief, outline, "
        r"sectionDraft\.$",
    ):
        scaffold("--pipeline", "nonfiction", "--after", "draft")
    with pytest.raises(CommandError, match="--after needs --pipeline"):
        scaffold("--after", "outline")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_startplanner_writes_the_planner_its_pipeline_and_opens_its_dev_checklist(
    tmp_path: Path,
) -> None:
    out = StringIO()
    call_command("startplanner", "risk_review", "--target", str(tmp_path), stdout=out)

    package = tmp_path / "planners" / "risk_review"
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "pipeline.py",
        "planner.py",
        "runner.py",
        "scripted_replies.py",
    ]
    planner_source = (package / "planner.py").read_text()
    assert "class RiskReviewPlanner(PlannerBase[RiskReviewParams]):" in planner_source
    assert "@register_planner" in planner_source
    assert "class RiskReviewRunner(PhaseRunner):" in (package / "runner.py").read_text()
    pipeline_source = (package / "pipeline.py").read_text()
    assert "register_pipeline(" in pipeline_source
    assert "start_backlog_id=SLUG," in pipeline_source
    assert "register_scripted_replies({PHASE: SCRIPTED_REPLY})" in pipeline_source
    assert (tmp_path / "tests" / "test_planner_risk_review.py").exists()
    checklist = RolloutChecklist.objects.get(planner_slug="risk-review")
    assert checklist.environment.name == "dev"
    assert "planners/risk_review/pipeline.py" in checklist.files_touched.splitlines()
    assert checklist.items.count() > 0
    assert "opened rollout checklist risk-review / dev" in out.getvalue()
    assert "in its own pipeline 'risk-review'" in out.getvalue()

    with pytest.raises(CommandError, match="Refusing to overwrite"):
        call_command("startplanner", "risk_review", "--target", str(tmp_path), stdout=out)


def test_startplanner_with_a_pipeline_adds_a_phase_after_the_named_one(tmp_path: Path) -> None:
    out = StringIO()
    call_command(
        "startplanner",
        "Fact Check",
        "--pipeline",
        "nonfiction",
        "--after",
        "outline",
        "--target",
        str(tmp_path),
        "--no-checklist",
        stdout=out,
    )
    call_command(
        "startplanner",
        "Style Pass",
        "--pipeline",
        "nonfiction",
        "--target",
        str(tmp_path),
        "--no-checklist",
        stdout=out,
    )

    fact_check = (tmp_path / "planners" / "fact_check" / "pipeline.py").read_text()
    assert 'PIPELINE = "nonfiction"\nAFTER = "outline"\n' in fact_check
    assert "extend_pipeline(" in fact_check
    assert 'start_inputs=(f"{AFTER_PREFIX}{AFTER}",),' in fact_check
    style_pass = (tmp_path / "planners" / "style_pass" / "pipeline.py").read_text()
    assert 'AFTER = "sectionDraft"' in style_pass  # the pipeline's last phase
    assert "in phase 'factCheck' of pipeline 'nonfiction', after 'outline'" in out.getvalue()


# --- in a copy of the project ----------------------------------------------------------------


@pytest.mark.deployment
def test_scaffolded_planners_register_their_pipelines_and_their_generated_tests_pass(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    for args in (
        ["Research Brief"],
        ["Fact Check", "--pipeline", "nonfiction", "--after", "outline"],
        # After fiction's last phase: its scene items only appear once the scrolls are refined.
        ["Continuity Check", "--pipeline", "fiction"],
    ):
        call_command(
            "startplanner", *args, "--target", str(project), "--no-checklist", stdout=StringIO()
        )

    # A fresh process of the copy, where research-brief is registered: a phase of a scaffolded
    # pipeline, in a package whose name sorts before the pipeline's own.
    appendix = ["manage.py", "startplanner", "Appendix", "--pipeline", "research-brief"]
    succeeded(run_in_copy(project, *appendix, "--no-checklist"))

    # Fresh processes: planners and phases register at start-up with no edit anywhere else.
    listed = json.loads(succeeded(run_in_copy(project, "manage.py", "pipelines", "--json")))
    phases = {p["slug"]: [phase["key"] for phase in p["phases"]] for p in listed["pipelines"]}
    assert phases["research-brief"] == ["researchBrief", "appendix"]
    assert phases["nonfiction"] == ["brief", "outline", "factCheck", "sectionDraft"]
    assert phases["fiction"][-2:] == ["sceneWeaver", "continuityCheck"]

    modules = ("research_brief", "fact_check", "continuity_check", "appendix")
    generated = [f"tests/test_planner_{module}.py" for module in modules]
    tested = run_in_copy(project, "-m", "pytest", *generated, "-q", "-p", "no:cacheprovider")
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "20 passed" in tested.stdout

    # `make check` stays clean: the generated code is already ruff-formatted and sorted.
    packages = [f"planners/{module}" for module in modules]
    for ruff in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [str(BIN / "ruff"), *ruff, *packages, *generated],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
