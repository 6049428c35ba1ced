"""The processes a pipeline benchmark runs against: the loopback chat model in its own process,
and the two workers started as ``runconsole`` starts them, with their memory and CPU sampled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests
from django.conf import settings

from cognition.celery import app
from cognition.workers import housekeeping_worker_command, phase_worker_command
from planners.fiction.scripted_replies import DEFAULT_REPLIES

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
