"""The workers the pipeline benchmark runs, as ``runconsole`` starts them, and what they and the
database cost while they run (memory, CPU seconds)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import psutil
from django.conf import settings

from cognition.celery import app
from cognition.workers import (
    HOUSEKEEPING_PROCESSES,
    housekeeping_worker_command,
    phase_worker_commands,
)


class ConsoleWorkers:
    """The housekeeping worker (prefork, with beat) and the phase workers (threads), started as
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
            "housekeeping": housekeeping_worker_command(
                HOUSEKEEPING_PROCESSES, loglevel="warning", schedule=schedule
            ),
            **phase_worker_commands(
                settings.PHASE_WORKER_PROCESSES,
                settings.PHASE_WORKER_CONCURRENCY,
                loglevel="warning",
            ),
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
            if {name.split("@")[0] for name in answered} >= set(self.processes):
                return
        raise TimeoutError(f"the workers did not answer a ping in time: {self.log()}")

    def tree(self, prefix: str = "") -> list[psutil.Process]:
        """Every process of the workers whose names start with ``prefix``."""
        processes = []
        for key, process in self.processes.items():
            if not key.startswith(prefix):
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

    def cpu_seconds(self, prefix: str = "") -> float:
        """CPU seconds the workers (or those named ``prefix``...) have used, every process."""
        total = 0.0
        for process in self.tree(prefix):
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


def database_cpu_seconds() -> float | None:
    """CPU seconds the local PostgreSQL server has used, every process of it (the server
    processes that have exited count through their parent); None when it is not on this machine
    or cannot be read. It serves whoever else uses it too."""
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] != "postgres" or process.parent().name() == "postgres":
                continue
            times = process.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in process.children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
            return total
        except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            continue
    return None
