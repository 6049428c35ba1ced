"""Pipeline makespan: five-phase fiction plans on the ``openai`` backend, through the two workers
the console runs, against a loopback model that takes ``latency`` seconds a call.

The floor is what the model alone allows: each plan's five phases one after another, and no
more than ``AGENT_MAX_CONCURRENCY`` calls at once (or, rate-limited, no more calls a second than
the provider answers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests
from django.conf import settings

from cognition.agents.limits import provider_limiter
from cognition.benchmarks.figures import Figure
from cognition.celery import app
from cognition.workers import housekeeping_worker_command, phase_worker_command
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


class ConsoleWorkers:
    """The housekeeping worker (prefork, with beat) and the phases worker (threads), started as
    ``runconsole`` starts them, with ``env`` on top of ours. Samples their summed RSS."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cognition.settings", **env}
        self.log_dir = log_dir
        self.peak_rss = 0
        self._sampling = threading.Event()

    def __enter__(self) -> ConsoleWorkers:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        schedule = str(self.log_dir / "celerybeat-schedule")
        commands = {
            "housekeeping": housekeeping_worker_command(2, loglevel="warning", schedule=schedule),
            "phases": phase_worker_command(settings.PHASE_WORKER_CONCURRENCY, loglevel="warning"),
        }
        self.processes = {}
        for name, command in commands.items():
            with open(self.log_dir / f"{name}.log", "wb") as log:
                self.processes[name] = subprocess.Popen(
                    command, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=log
                )
        self._wait_until_ready()
        self._sampler = threading.Thread(target=self._sample_rss, daemon=True)
        self._sampler.start()
        return self

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"the {name} worker exited during start-up: {self.log()}")
            answered = {name for reply in app.control.ping(timeout=0.5) or [] for name in reply}
            if {name.split("@")[0] for name in answered} >= {"housekeeping", "phases"}:
                return
        raise TimeoutError(f"the workers did not answer a ping in time: {self.log()}")

    def tree(self, name: str | None = None) -> list[psutil.Process]:
        processes = []
        for key, process in self.processes.items():
            if name is not None and key != name:
                continue
            try:
                parent = psutil.Process(process.pid)
                processes += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        return processes

    def rss(self) -> int:
        total = 0
        for process in self.tree():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def cpu_seconds(self, name: str | None = None) -> float:
        """CPU seconds the workers (or the one called ``name``) have used, every process."""
        total = 0.0
        for process in self.tree(name):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def _sample_rss(self) -> None:
        while not self._sampling.wait(0.2):
            self.peak_rss = max(self.peak_rss, self.rss())

    def log(self) -> str:
        return "\n".join(
            (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
            for name in self.processes
        )

    def __exit__(self, *exc: object) -> None:
        self._sampling.set()
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


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
