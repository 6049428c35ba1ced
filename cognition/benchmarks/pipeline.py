"""Pipeline makespan: five-phase fiction plans on the ``openai`` backend, through the two workers
the console runs, against a loopback model that takes ``latency`` seconds a call.

The floor is what the model alone allows: each plan's five phases one after another, and no
more than ``AGENT_MAX_CONCURRENCY`` calls at once (or, rate-limited, no more calls a second than
the provider answers).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from cognition.agents.limits import provider_limiter
from cognition.benchmarks.figures import Figure
from cognition.benchmarks.workers import ConsoleWorkers, database_cpu_seconds
from cognition.celery import app
from planners.actions import create_plan, start_pipeline
from planners.fiction.scripted_replies import DEFAULT_REPLIES
from planners.models import Plan, Project

PHASES = 5
#: A line of each fiction planner's prompt, for the model to tell which one is asking.
PROMPT_MARKERS = {
    "You are planning the novel": "vision",
    "You are refining the fiction plan": "iterative",
    "You are the chapter architect for the fiction plan": "chapterArchitect",
    "You are refining a chapter of the fiction plan": "scrollRefiner",
    "You are drafting one scene of the fiction plan": "sceneWeaver",
}


class ChatModelServer:
    """``cognition.benchmarks.chat_server`` in its own process."""

    def __init__(self, latency: float, rate_per_second: int | None = None) -> None:
        self.config = {
            "latency": latency,
            "rate_per_second": rate_per_second,
            "replies": {marker: DEFAULT_REPLIES[phase] for marker, phase in PROMPT_MARKERS.items()},
        }

    def __enter__(self) -> ChatModelServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cognition.benchmarks.chat_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(self.config) + "\n")
        self.process.stdin.flush()
        self.base_url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}/v1"
        return self

    def stats(self) -> dict[str, Any]:
        response = requests.get(f"{self.base_url}/stats", timeout=5)
        stats: dict[str, Any] = response.json()
        return stats

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Run:
    seconds: float
    complete: int
    stats: dict[str, Any]
    peak_rss_mb: float
    cpu_seconds: float
    phases_cpu_seconds: float
    database_cpu_seconds: float | None
    log: str


def _purge_queues() -> None:
    """Nothing an earlier, interrupted run left on the broker is consumed by this one."""
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.PHASES_QUEUE):
            channel.queue_purge(queue)


def run_plans(plans: int, latency: float, env: dict[str, str], rate: int | None) -> Run:
    Project.objects.filter(title__startswith="Bench pipeline").delete()
    _purge_queues()
    provider_limiter().clear("openai")
    with ChatModelServer(latency, rate) as server:
        worker_env = {
            "AGENT_BACKEND": "openai",
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "",
            "AGENT_TIMEOUT_SECONDS": str(max(10.0, latency * 10)),
            # The generated history's in-progress items are stale on purpose (the console's
            # stale card): the sweep must not resume them into this run's calls.
            "BACKLOG_STALE_AFTER_SECONDS": str(365 * 86400),
            **env,
        }
        with ConsoleWorkers(worker_env, Path(settings.VAR_DIR) / "bench" / "workers") as workers:
            created = [
                create_plan(
                    Project.objects.create(title=f"Bench pipeline {n:03d}"),
                    agent_backend="openai",
                    actor="bench",
                )
                for n in range(plans)
            ]
            ids = [plan.pk for plan in created]
            cpu_before = workers.cpu_seconds()
            phases_cpu_before = workers.cpu_seconds("phases")
            database_cpu_before = database_cpu_seconds()
            started = time.perf_counter()
            for plan in created:
                start_pipeline(plan, actor="bench", agent_backend="openai")
            deadline = time.monotonic() + 120 + plans * PHASES * latency
            finished = Plan.objects.filter(pk__in=ids, status__in=_DONE)
            while finished.count() < plans and time.monotonic() < deadline:
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            cpu = workers.cpu_seconds() - cpu_before
            phases_cpu = workers.cpu_seconds("phases") - phases_cpu_before
            database_cpu_after = database_cpu_seconds()
            complete = Plan.objects.filter(pk__in=ids, status=Plan.Status.COMPLETE).count()
            run = Run(
                seconds=seconds,
                complete=complete,
                stats=server.stats(),
                peak_rss_mb=max(workers.peak_rss, workers.rss()) / 2**20,
                cpu_seconds=cpu,
                phases_cpu_seconds=phases_cpu,
                database_cpu_seconds=(
                    database_cpu_after - database_cpu_before
                    if database_cpu_before is not None and database_cpu_after is not None
                    else None
                ),
                log=workers.log() if complete < plans else "",
            )
    Project.objects.filter(title__startswith="Bench pipeline").delete()
    return run


_DONE = [Plan.Status.COMPLETE, Plan.Status.BLOCKED]


def _error(run: Run, plans: int, *, incomplete_is_error: bool = True) -> str:
    if (run.complete == plans or not incomplete_is_error) and not run.stats["unrecognised"]:
        return ""
    return (
        f"{run.complete} of {plans} plans complete, {run.stats['unrecognised']} prompts not "
        f"recognised; worker log tail:\n{run.log}"
    )


def makespan_figures(scale: str, plans: int, latency: float) -> list[Figure]:
    run = run_plans(plans, latency, {}, rate=None)
    calls = plans * PHASES
    floor = max(PHASES * latency, calls * latency / settings.AGENT_MAX_CONCURRENCY)
    error = _error(run, plans)
    detail = {
        "plans": plans,
        "complete": run.complete,
        "calls": run.stats["answered"],
        "latency_s": latency,
        "max_in_flight": run.stats["max_in_flight"],
        "max_concurrency": settings.AGENT_MAX_CONCURRENCY,
    }
    return [
        Figure(
            name="pipeline makespan",
            scale=scale,
            ours=run.seconds,
            floor=floor,
            unit="s",
            goal="ratio <= 1.3",
            passed=run.seconds / floor <= 1.3,
            detail=detail,
            error=error,
        ),
        Figure(
            name="worker peak RSS",
            scale=scale,
            ours=run.peak_rss_mb,
            unit="MB",
            goal="<= 600 MB (both workers, every process)",
            passed=run.peak_rss_mb <= 600,
            detail={"plans": plans},
        ),
        Figure(
            name="worker CPU per phase",
            scale=scale,
            ours=run.cpu_seconds / max(1, run.stats["answered"]) * 1000,
            unit="ms",
            goal="reported",
            passed=None,
            detail={
                "cpu_seconds": round(run.cpu_seconds, 2),
                "phases_worker_cpu_seconds": round(run.phases_cpu_seconds, 2),
                "database_cpu_seconds": (
                    round(run.database_cpu_seconds, 2)
                    if run.database_cpu_seconds is not None
                    else None
                ),
                "calls": run.stats["answered"],
            },
        ),
    ]


def rate_limited_figure(
    scale: str, plans: int, latency: float, requests_per_minute: int, server_rate: int
) -> Figure:
    run = run_plans(
        plans, latency, {"AGENT_REQUESTS_PER_MINUTE": str(requests_per_minute)}, rate=server_rate
    )
    calls = plans * PHASES
    allowed = min(requests_per_minute / 60, server_rate)
    floor = max(PHASES * latency, calls * latency / settings.AGENT_MAX_CONCURRENCY, calls / allowed)
    after_first = run.stats["limited_after_first"]
    return Figure(
        name="rate-limited makespan",
        scale=scale,
        ours=run.seconds,
        floor=floor,
        unit="s",
        goal="ratio <= 1.2, no 429 after the first",
        # Plans the provider's 429s blocked (retries spent) are a miss of the product, not the
        # bench's error: only a prompt the model did not recognise is.
        passed=run.seconds / floor <= 1.2 and after_first == 0 and run.complete == plans,
        detail={
            "plans": plans,
            "complete": run.complete,
            "calls": run.stats["answered"],
            "requests_per_minute": requests_per_minute,
            "server_rate_per_s": server_rate,
            "429s": run.stats["limited"],
            "429s_after_first": after_first,
        },
        error=_error(run, plans, incomplete_is_error=False),
    )
