"""Run the whole console on one machine: web server, Celery workers and beat.

The workers as in production: one with a small pool (and beat; ``cognition.workers`` says which
pool) for housekeeping on the default queue (alert evaluation and delivery, sweeps, roll-ups,
pruning), and ``PHASE_WORKER_PROCESSES`` with a threads pool of ``PHASE_WORKER_CONCURRENCY``
threads each for the phases queue, whose tasks spend their time waiting on the model.

Migrates, seeds the prompt templates, makes sure a staff login exists and prints it, queues the
demo pipeline on first start (unless DEMO=0), then supervises the processes: one Ctrl-C stops
them all, and if one of them dies the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from cognition.console_login import ensure_console_login
from cognition.workers import (
    HOUSEKEEPING_PROCESSES,
    housekeeping_worker_command,
    phase_worker_commands,
)
from planners.demo import ensure_demo_pipeline


def public_base_url(addr: str) -> str:
    """The URL a browser on this machine reaches `runserver ADDR` at."""
    host, _, port = addr.rpartition(":")
    if host in {"", "0", "0.0.0.0", "[::]"}:
        host = "127.0.0.1"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Serve the console with a Celery worker and beat (what `make run` does)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr",
            default=f"127.0.0.1:{settings.PORT}",
            help="host:port to serve on (default: 127.0.0.1 and $PORT, 8000)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=HOUSEKEEPING_PROCESSES,
            help=f"housekeeping worker processes (default {HOUSEKEEPING_PROCESSES})",
        )
        parser.add_argument(
            "--phase-processes",
            type=int,
            default=settings.PHASE_WORKER_PROCESSES,
            help="phase worker processes (default: PHASE_WORKER_PROCESSES, 2)",
        )
        parser.add_argument(
            "--phase-threads",
            type=int,
            default=settings.PHASE_WORKER_CONCURRENCY,
            help="phases in flight per phase worker (default: PHASE_WORKER_CONCURRENCY, 32)",
        )
        parser.add_argument("--no-worker", action="store_true", help="serve the web app only")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        call_command("seed_planner_templates", stdout=self.stdout)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        login = ensure_console_login()
        self._print_login(login.username, login.password, options["addr"])
        if "PUBLIC_BASE_URL" not in os.environ:
            # The web server and the worker (alert links) point at the server started here.
            os.environ["PUBLIC_BASE_URL"] = public_base_url(options["addr"])

        processes: dict[str, subprocess.Popen[bytes]] = {}
        if not options["no_worker"]:
            processes["worker"] = self._start_worker(options["concurrency"])
            for name, command in phase_worker_commands(
                options["phase_processes"], options["phase_threads"]
            ).items():
                processes[f"{name} worker"] = subprocess.Popen(command, cwd=settings.BASE_DIR)
        processes["web server"] = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", options["addr"], "--noreload"],
            cwd=settings.BASE_DIR,
        )
        if not options["no_worker"] and os.environ.get("DEMO", "1") != "0":
            self._queue_demo()
        self._supervise(processes)

    def _print_login(self, username: str, password: str | None, addr: str) -> None:
        shown = password if password else "(unchanged; reset with `manage.py changepassword`)"
        self.stdout.write(
            self.style.SUCCESS(f"Console: http://{addr}/  login: {username}  password: {shown}")
        )

    def _start_worker(self, concurrency: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(housekeeping_worker_command(concurrency), cwd=settings.BASE_DIR)

    def _queue_demo(self) -> None:
        plan = ensure_demo_pipeline()
        if plan is not None:
            self.stdout.write(f"Demo pipeline queued for plan {plan.pk} ({plan}).")

    def _supervise(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"The {name} exited with code {process.returncode}.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)
