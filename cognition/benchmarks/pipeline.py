"""Pipeline overhead: scripted five-phase pipelines on real workers against a floor of Celery
chains of five tasks that each insert one row, both through the same broker and workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from celery import chain
from django.conf import settings

from cognition.benchmarks.figures import Figure
from cognition.benchmarks.floor_tasks import floor_insert
from cognition.celery import app
from planners.actions import create_plan, start_pipeline
from planners.models import Plan, Project, TelemetryEvent


class Workers:
    """One Celery worker with ``concurrency`` processes, with the floor task loaded too."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def __enter__(self) -> Workers:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "cognition", "worker",
                "-I", "cognition.benchmarks.floor_tasks", "--pool", "prefork",
                "--concurrency", str(self.concurrency), "--loglevel", "warning",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=settings.BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "cognition.settings"},
        )  # fmt: skip
        self._wait_until_ready()
        return self

    def _wait_until_ready(self, timeout: float = 60) -> None:
        """Until every pool process answers a ping (not a fixed sleep: a slow start would put
        the pool's start-up on our clock, a fast one would waste the wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the benchmark worker exited during start-up")
            if app.control.ping(timeout=0.5):
                return
        raise TimeoutError("the benchmark worker did not answer a ping in time")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark work did not finish in time")
        time.sleep(0.05)


def pipeline_figure(scale: str, pipelines: int, *, timeout: float = 600) -> Figure:
    phases = 5
    Project.objects.filter(title__startswith="Bench pipeline").delete()
    TelemetryEvent.objects.filter(name="bench.floor").delete()
    with Workers(concurrency=2):
        plans = [
            create_plan(
                Project.objects.create(title=f"Bench pipeline {n:03d}"),
                agent_backend="scripted",
                actor="bench",
            )
            for n in range(pipelines)
        ]
        plan_ids = [plan.pk for plan in plans]
        started = time.perf_counter()
        for plan in plans:
            start_pipeline(plan, actor="bench", agent_backend="scripted")

        def all_done() -> bool:
            # Autocommit: every poll is its own statement and sees what the workers committed
            # (like the floor's poll below; reconnecting on every poll cost CPU the workers
            # share on a small machine).
            return (
                Plan.objects.filter(pk__in=plan_ids)
                .exclude(status__in=[Plan.Status.COMPLETE, Plan.Status.BLOCKED])
                .count()
                == 0
            )

        _wait_for(all_done, timeout)
        ours_s = time.perf_counter() - started
        complete = Plan.objects.filter(pk__in=plan_ids, status=Plan.Status.COMPLETE).count()

        started = time.perf_counter()
        for n in range(pipelines):
            chain(*[floor_insert.si(n, phase) for phase in range(phases)]).apply_async()
        _wait_for(
            lambda: TelemetryEvent.objects.filter(name="bench.floor").count() >= pipelines * phases,
            timeout,
        )
        floor_s = time.perf_counter() - started
    TelemetryEvent.objects.filter(name="bench.floor").delete()
    ratio = ours_s / floor_s
    return Figure(
        name="pipeline overhead",
        scale=scale,
        ours_ms=ours_s * 1000 / (pipelines * phases),
        floor_ms=floor_s * 1000 / (pipelines * phases),
        goal="ratio <= 3 per phase",
        passed=ratio <= 3 and complete == pipelines,
        detail={
            "pipelines": pipelines,
            "complete": complete,
            "pipelines_per_minute": round(pipelines / ours_s * 60, 1),
            "floor_pipelines_per_minute": round(pipelines / floor_s * 60, 1),
            "broker": settings.CELERY_BROKER_URL.split("://")[0],
        },
    )
