"""startplanner: a planner scaffolded the runbook's way registers itself and its pipeline, passes
its generated test, runs on a real worker and passes its rollout checks, with no edit anywhere
outside the files it wrote.

The end-to-end tests work on a copy of the project run the way a user runs it: fresh processes
of the copy with its embedded defaults (a SQLite file and the filesystem broker under its
``var/``), a real Celery worker and web server of the copy, and an Ops webhook receiver on
loopback standing in for the team's channel.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from planners.models.rollout import RolloutChecklist
from planners.pipeline.registry import Pipeline, pipelines
from planners.rollouts.scaffold import PlannerNames, ScaffoldError
from tests.servers import SIGNING_SECRET, ReceivedRequest, Receiver
from tests.worker import CeleryWorker, wait_until

PROJECT_PARTS = ("cognition", "planners", "opsalerts", "templates", "static", "manage.py")
BIN = Path(sys.executable).parent


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
    # The fixtures and the modules they build on (factories, fake servers, the worker), no tests.
    for source in (base / "tests").glob("*.py"):
        if not source.name.startswith("test_"):
            shutil.copy2(source, root / "tests" / source.name)
    return root


def _env(project: Path, **extra: str) -> dict[str, str]:
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


def _run(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env or _env(project),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


def test_scaffolded_planners_register_their_pipelines_and_their_generated_tests_pass(
    tmp_path: Path,
) -> None:
    project = _project_copy(tmp_path / "project")
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
    _ok(_run(project, *appendix, "--no-checklist"))

    # Fresh processes: planners and phases register at start-up with no edit anywhere else.
    listed = json.loads(_ok(_run(project, "manage.py", "pipelines", "--json")))
    phases = {p["slug"]: [phase["key"] for phase in p["phases"]] for p in listed["pipelines"]}
    assert phases["research-brief"] == ["researchBrief", "appendix"]
    assert phases["nonfiction"] == ["brief", "outline", "factCheck", "sectionDraft"]
    assert phases["fiction"][-2:] == ["sceneWeaver", "continuityCheck"]

    modules = ("research_brief", "fact_check", "continuity_check", "appendix")
    generated = [f"tests/test_planner_{module}.py" for module in modules]
    tested = _run(project, "-m", "pytest", *generated, "-q", "-p", "no:cacheprovider")
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


# --- on a real worker, as the runbook's dev rollout ------------------------------------------


@dataclass
class Deployment:
    """The copy, run as a dev deployment: ``manage`` runs a command in a fresh process."""

    root: Path
    env: dict[str, str]
    receiver: Receiver
    web_url: str

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run(self.root, "manage.py", *args, env=self.env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Baseline, two scaffolded planners (one with a pipeline of its own, one a phase of the
    non-fiction pipeline), seeded templates, a worker and the web server, all of the copy."""
    root = _project_copy(tmp_path_factory.mktemp("deployment") / "project")
    receiver = Receiver().start()
    web_url = f"http://127.0.0.1:{_free_port()}"
    env = _env(
        root,
        PYTHONPATH=str(root),  # the worker's celery script would find the installed project
        AGENT_BACKEND="scripted",
        DEMO="0",
        PYTHONUNBUFFERED="1",
        PUBLIC_BASE_URL=web_url,
        OPS_ALERTING_ENABLED="true",
        OPS_ALERTING_WEBHOOK_URL=receiver.url("/planner-ops"),
        OPS_ALERTING_ROUTING_KEY="planner-ops",
        OPS_ALERTING_SIGNING_SECRET=SIGNING_SECRET,
        OPS_ALERTING_SLO_THRESHOLDS='{"alert:backlog:stale": 30}',
    )
    deployed = Deployment(root, env, receiver, web_url)
    _ok(deployed.manage("migrate", "--no-input"))
    _ok(deployed.manage("startplanner", "Research Brief"))
    _ok(
        deployed.manage(
            "startplanner", "Fact Check", "--pipeline", "nonfiction", "--after", "outline"
        )
    )
    _ok(deployed.manage("seed_planner_templates"))
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", web_url.rsplit("/", 1)[1], "--noreload"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = CeleryWorker(env, root / "var", cwd=root)
    try:
        worker.start(beat=True)  # as `make run` has it: without beat the report is critical
        wait_until(lambda: _answers(f"{web_url}/healthz"), timeout=30, what="the web server")
        yield deployed
    finally:
        worker.stop()
        web.kill()
        web.wait(timeout=10)
        receiver.stop()


def _acknowledge_through_the_link(request: ReceivedRequest, name: str) -> str:
    """What a person does from the chat message: open the link, press Acknowledge."""
    [entry] = [a for a in request.json["alerts"] if a["synthetic"]]
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(entry["ack_url"], timeout=10) as page:
        form = page.read().decode()
    assert "Acknowledge this alert?" in form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    body = urlencode({"name": name, "csrfmiddlewaretoken": token.group(1)}).encode()
    with browser.open(entry["ack_url"], data=body, timeout=10) as done:
        return done.read().decode()


@pytest.mark.worker
def test_scaffolded_planner_runs_on_a_worker_and_passes_its_rollout_checks(
    deployment: Deployment,
) -> None:
    ran = _ok(
        deployment.manage(
            "run_pipeline",
            "--pipeline",
            "research-brief",
            "--project",
            "Quarterly roadmap",
            "--agent",
            "scripted",
            "--wait",
            "--timeout",
            "60",
        )
    )
    assert re.search(r"researchBrief\s+research-brief: in_progress → complete", ran), ran
    assert re.search(r"plan \d+ complete: 1 backlog items done\.", ran), ran

    listed = json.loads(_ok(deployment.manage("pipelines", "--json")))
    [mine] = [p for p in listed["pipelines"] if p["slug"] == "research-brief"]
    assert [(p["key"], p["planner"]) for p in mine["phases"]] == [
        ("researchBrief", "research-brief")
    ]
    assert "research-brief" in _ok(deployment.manage("planners"))
    health = deployment.manage("planner_health", "--json")
    assert health.returncode in (0, 1), health.stderr  # healthy or degraded, never critical
    [state] = [p for p in json.loads(health.stdout)["planners"] if p["slug"] == "research-brief"]
    assert state["steps"][0]["found"]
    assert state["runs_in_window"] == 1

    drilled = _ok(deployment.manage("trigger_synthetic_alert", "--planner", "research-brief"))
    assert "dedup key:     backlog:stale:synthetic:research-brief@dev" in drilled
    assert "delivery:      sent" in drilled
    *_, request = [r for r in deployment.receiver.posts("/planner-ops") if b"synthetic" in r.body]
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["routing_key"] == "planner-ops"
    [entry] = [a for a in payload["alerts"] if a["synthetic"]]
    assert (entry["planner"], entry["slo_minutes"]) == ("research-brief", 30)
    assert "Alert acknowledged" in _acknowledge_through_the_link(request, "Ravi")

    verified = _ok(deployment.manage("verify_rollout", "research-brief"))
    checks = re.findall(r"^  (PASS|FAIL) (\S+):", verified, re.M)
    assert len(checks) == 6, verified
    assert all(mark == "PASS" for mark, _ in checks), verified
    assert "acknowledged by Ravi (ack link) via link" in verified


@pytest.mark.worker
def test_scaffolded_phase_runs_within_a_nonfiction_plan_on_the_worker(
    deployment: Deployment,
) -> None:
    ran = _ok(
        deployment.manage(
            "run_pipeline",
            "--pipeline",
            "nonfiction",
            "--project",
            "The Quiet Grid",
            "--agent",
            "scripted",
            "--wait",
            "--timeout",
            "60",
        )
    )

    completed = re.findall(r"^\[[ \d.]+s\] (\w+)\s+\S+: in_progress → complete", ran, re.M)
    assert completed.index("brief") < completed.index("outline") < completed.index("factCheck")
    assert completed.count("sectionDraft") == 2, ran
    assert re.search(r"plan \d+ complete: 5 backlog items done\.", ran), ran
