"""startplanner's runbook on a dev deployment: two scaffolded planners (one with a pipeline of its
own, one a phase of the non-fiction pipeline) run on a real worker of a copy of the project and
pass their rollout checks, with an Ops webhook receiver on loopback standing in for the team's
channel. Apart from the other scaffold tests so that a test process of its own can build the
deployment while they run.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode

import pytest
from standardwebhooks import Webhook

from tests.project_copy import copy_env, copy_project, run_in_copy, succeeded
from tests.servers import SIGNING_SECRET, ReceivedRequest, Receiver
from tests.worker import CeleryWorker, wait_until


@dataclass
class Deployment:
    """The copy, run as a dev deployment: ``manage`` runs a command in a fresh process."""

    root: Path
    env: dict[str, str]
    receiver: Receiver
    web_url: str

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_in_copy(self.root, "manage.py", *args, env=self.env)


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
    root = copy_project(tmp_path_factory.mktemp("deployment") / "project")
    receiver = Receiver().start()
    web_url = f"http://127.0.0.1:{_free_port()}"
    env = copy_env(
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
    succeeded(deployed.manage("migrate", "--no-input"))
    succeeded(deployed.manage("startplanner", "Research Brief"))
    succeeded(
        deployed.manage(
            "startplanner", "Fact Check", "--pipeline", "nonfiction", "--after", "outline"
        )
    )
    succeeded(deployed.manage("seed_planner_templates"))
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
    ran = succeeded(
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

    listed = json.loads(succeeded(deployment.manage("pipelines", "--json")))
    [mine] = [p for p in listed["pipelines"] if p["slug"] == "research-brief"]
    assert [(p["key"], p["planner"]) for p in mine["phases"]] == [
        ("researchBrief", "research-brief")
    ]
    assert "research-brief" in succeeded(deployment.manage("planners"))
    health = deployment.manage("planner_health", "--json")
    assert health.returncode in (0, 1), health.stderr  # healthy or degraded, never critical
    [state] = [p for p in json.loads(health.stdout)["planners"] if p["slug"] == "research-brief"]
    assert state["steps"][0]["found"]
    assert state["runs_in_window"] == 1

    drilled = succeeded(deployment.manage("trigger_synthetic_alert", "--planner", "research-brief"))
    assert "dedup key:     backlog:stale:synthetic:research-brief@dev" in drilled
    assert "delivery:      sent" in drilled
    *_, request = [r for r in deployment.receiver.posts("/planner-ops") if b"synthetic" in r.body]
    payload = Webhook(SIGNING_SECRET).verify(request.body, request.headers)
    assert payload["routing_key"] == "planner-ops"
    [entry] = [a for a in payload["alerts"] if a["synthetic"]]
    assert (entry["planner"], entry["slo_minutes"]) == ("research-brief", 30)
    assert "Alert acknowledged" in _acknowledge_through_the_link(request, "Ravi")

    verified = succeeded(deployment.manage("verify_rollout", "research-brief"))
    checks = re.findall(r"^  (PASS|FAIL) (\S+):", verified, re.M)
    assert len(checks) == 6, verified
    assert all(mark == "PASS" for mark, _ in checks), verified
    assert "acknowledged by Ravi (ack link) via link" in verified


@pytest.mark.worker
def test_scaffolded_phase_runs_within_a_nonfiction_plan_on_the_worker(
    deployment: Deployment,
) -> None:
    ran = succeeded(
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
