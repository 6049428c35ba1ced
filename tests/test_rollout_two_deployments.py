"""dev → staging across two deployments, each with its own database and DEPLOY_ENVIRONMENT,
the evidence carried by signed export and import, with a short watch.

Every step is a real ``manage.py`` process against that deployment's SQLite file; the Ops
channel is a loopback webhook receiver. Along the way the gate refuses a premature staging
sign-off, a tampered file and a file signed with another key.

staging starts from a copy of dev's freshly migrated database, the two are prepared at the
same time, and each watch lasts only as long as the steps that must happen inside it need at
this machine's measured pace.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.factories.rollouts import EVIDENCE_KEY, OTHER_EVIDENCE_KEY, PLANNER
from tests.servers import SIGNING_SECRET, Receiver

pytestmark = pytest.mark.deployment

#: How many times this machine's measured pace a watch allows for each process that must end
#: inside it: the load of a shared machine can change between measuring and watching.
WATCH_MARGIN = 3
MIN_WATCH_SECONDS = 5
#: After dev's sign-off: the rest of the sign-off step, the gate that sees the watch running
#: and the export that carries it to staging. After staging's: the rest of the sign-off step
#: (the planner run its watch must count).
PROCESSES_IN_DEV_WATCH = 3
PROCESSES_IN_STAGING_WATCH = 1
#: How long ``rollout_gate --wait`` may wait beyond the end of a watch (it polls every 2 s).
GATE_WAIT_SLACK_SECONDS = 10
INHERITED_PREFIXES = ("DJANGO_", "OPS_", "PLANNER_", "HEALTH_", "DATABASE_", "DEBUG", "DEPLOY_")


class Deployment:
    def __init__(self, name: str, root: Path, webhook: str) -> None:
        self.name = name
        var = root / name
        var.mkdir()
        self.database = var / "db.sqlite3"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
        self.env.update(
            DJANGO_SETTINGS_MODULE="cognition.settings",
            PYTHONPATH=str(settings.BASE_DIR),
            VAR_DIR=str(var),
            DATABASE_URL=f"sqlite:///{self.database}",
            CELERY_BROKER_URL="filesystem://",
            DEPLOY_ENVIRONMENT=name,
            DEBUG="false",
            SECRET_KEY=f"{name}-secret-key-for-the-two-deployment-test",
            APP_BUILD=f"build-{name}",
            OPS_ALERTING_ENABLED="true",
            OPS_ALERTING_WEBHOOK_URL=webhook,
            OPS_ALERTING_SIGNING_SECRET=SIGNING_SECRET,
            PUBLIC_BASE_URL="http://testserver",
            ROLLOUT_EVIDENCE_KEY=EVIDENCE_KEY,
            ROLLOUT_WATCH_MIN_RUNS="1",
            LOG_LEVEL="warning",
            # The heartbeats recorded by gather_live_evidence() stay fresh for the whole test.
            LIVENESS_INTERVAL_SECONDS="600",
        )

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str, **env: str) -> str:
        result = self.manage(*args, **env)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def step(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.manage("shell", "-c", f"from tests.deployment_steps import *; {code}")

    def prepare(self) -> None:
        """Gather the live evidence and pass the manual items (one process), then verify."""
        result = self.step("gather_live_evidence(); complete_manual_items()")
        assert result.returncode == 0, result.stderr
        self.ok("verify_rollout", PLANNER)

    def sign_off_and_run(self, watch_seconds: int) -> str:
        """olivia signs off, starting a watch of ``watch_seconds``, and the planner runs once
        inside it; the step's output."""
        return self.ok(
            "shell",
            "-c",
            "from tests.deployment_steps import *; sign_off(); run_planner()",
            ROLLOUT_WATCH_SECONDS=str(watch_seconds),
        )

    def gate(self, environment: str, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.manage("rollout_gate", PLANNER, environment, *args)
        return result.returncode, json.loads(result.stdout)


@pytest.fixture
def channel() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def _migrate_both(first: Deployment, second: Deployment) -> None:
    """Both deployments start from the same empty schema (no migration depends on the
    environment), so the second gets a copy of the first's freshly migrated database."""
    first.ok("migrate", "--verbosity", "0")
    with (
        closing(sqlite3.connect(first.database)) as source,
        closing(sqlite3.connect(second.database)) as target,
    ):
        source.backup(target)


def _watch_seconds(processes: int, pace: float) -> int:
    """A watch long enough for ``processes`` steps, each taking about ``pace`` seconds, that
    must end inside it. Its length is not what is tested, and a watch that ends too soon fails
    the test (the gate then reports a passed or inconclusive watch where a running one, or a
    counted run, is asserted)."""
    return max(MIN_WATCH_SECONDS, math.ceil(WATCH_MARGIN * processes * pace))


def _import(deployment: Deployment, path: Path) -> subprocess.CompletedProcess[str]:
    return deployment.manage("import_rollout_evidence", str(path))


def _one_line_refusal(result: subprocess.CompletedProcess[str], reason: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]


def _refuse_tampered_and_foreign_evidence(
    dev: Deployment, staging: Deployment, early: Path
) -> None:
    """A copy of ``early`` edited by hand, and dev's evidence signed with another product's key,
    are each refused by staging with one line, and change nothing."""
    tampered = early.with_name("tampered.json")
    data = json.loads(early.read_text())
    data["watch"]["state"] = "passed"
    tampered.write_text(json.dumps(data))
    _one_line_refusal(_import(staging, tampered), "Tampered evidence file")
    other_key = early.with_name("other-key.json")
    other_key.write_text(
        dev.ok("export_rollout_evidence", PLANNER, ROLLOUT_EVIDENCE_KEY=OTHER_EVIDENCE_KEY)
    )
    _one_line_refusal(_import(staging, other_key), "Signed with another key")


def test_dev_to_staging_with_signed_evidence_and_a_watch(tmp_path: Path, channel: Receiver) -> None:
    dev = Deployment("dev", tmp_path, channel.url("/hook"))
    staging = Deployment("staging", tmp_path, channel.url("/hook"))

    _migrate_both(dev, staging)
    with ThreadPoolExecutor(max_workers=2) as preparing:
        list(preparing.map(Deployment.prepare, (dev, staging)))

    # dev: before the sign-off the gate is closed and no watch has started. The time that
    # step took is this machine's pace right now, from which each watch's length is derived.
    started = time.monotonic()
    code, dev_gate = dev.gate("dev")
    pace = time.monotonic() - started
    assert (code, dev_gate["watch"]["state"]) == (1, "not-started"), dev_gate["watch"]

    # dev: signed off on its own deployment; its watch starts and sees a healthy run.
    dev_watch = _watch_seconds(PROCESSES_IN_DEV_WATCH, pace)
    assert "signed off vision / dev" in dev.sign_off_and_run(dev_watch)
    code, dev_gate = dev.gate("dev")
    assert code == 1
    assert dev_gate["watch"]["state"] == "watching", dev_gate["watch"]
    early = tmp_path / "vision-dev-early.json"
    early.write_text(dev.ok("export_rollout_evidence", PLANNER))
    assert json.loads(early.read_text())["signature"]["algorithm"] == "HMAC-SHA256"

    # staging: its own checks pass, but dev is not signed off here, then its watch runs on.
    refused = staging.step("sign_off()")
    assert refused.returncode == 1
    assert "dev must be signed off for vision before staging" in refused.stderr
    assert "Imported evidence into vision / dev (signed off); watch: watching." in staging.ok(
        "import_rollout_evidence", str(early)
    )
    premature = staging.step("sign_off()")
    assert premature.returncode == 1
    assert "dev&#x27;s watch has not passed for vision" in premature.stderr

    _refuse_tampered_and_foreign_evidence(dev, staging, early)
    assert staging.gate("dev")[1]["watch"]["state"] == "watching"

    # dev: once the watch ends the gate opens there.
    code, dev_gate = dev.gate("dev", "--wait", str(dev_watch + GATE_WAIT_SLACK_SECONDS))
    assert (code, dev_gate["ok"]) == (0, True), dev_gate
    passed = tmp_path / "vision-dev.json"
    passed.write_text(dev.ok("export_rollout_evidence", PLANNER))

    # staging: the watch's result arrives with the second export; staging may now sign off.
    assert "watch: passed" in staging.ok("import_rollout_evidence", str(passed))
    assert staging.gate("dev")[0] == 0
    staging_watch = _watch_seconds(PROCESSES_IN_STAGING_WATCH, pace)
    assert "signed off vision / staging" in staging.sign_off_and_run(staging_watch)
    code, staging_gate = staging.gate(
        "staging", "--wait", str(staging_watch + GATE_WAIT_SLACK_SECONDS)
    )
    assert (code, staging_gate["ok"]) == (0, True), staging_gate
    note = staging.ok("rollout_note", PLANNER, "staging")
    assert "- App build signed off: version" in note
    assert "build build-staging" in note
