"""Pipeline makespan: five-phase fiction plans on the ``openai`` backend, through the two workers
the console runs, against a loopback model that takes ``latency`` seconds a call.

The floor is what the model alone allows: each plan's five phases one after another, and no
more than ``AGENT_MAX_CONCURRENCY`` calls at once (or, rate-limited, no more calls a second than
the provider answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from cognition.agents.limits import provider_limiter
from cognition.benchmarks.figures import Figure
from cognition.benchmarks.processes import ChatModelServer, ConsoleWorkers
from cognition.celery import app
from planners.actions import create_plan, start_pipeline
from planners.models import Plan, Project

PHASES = 5


@dataclass
class Run:
    seconds: float
    complete: int
    stats: dict[str, Any]
    peak_rss_mb: float
    cpu_seconds: float
    phases_cpu_seconds: float
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
            complete = Plan.objects.filter(pk__in=ids, status=Plan.Status.COMPLETE).count()
            run = Run(
                seconds=seconds,
                complete=complete,
                stats=server.stats(),
                peak_rss_mb=max(workers.peak_rss, workers.rss()) / 2**20,
                cpu_seconds=cpu,
                phases_cpu_seconds=phases_cpu,
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
