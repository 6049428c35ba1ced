"""A real Celery worker subprocess for tests, on the same database and broker as the test.

Import the ``celery_worker`` fixture into a test module (``from tests.worker import
celery_worker``) and mark the test ``@pytest.mark.worker`` and
``@pytest.mark.django_db(transaction=True)`` (the worker is another process: it only sees
committed rows).

- Database: the worker gets ``DATABASE_URL`` for the pytest test database (for SQLite the conftest
  makes that a file under ``var/test-db``; for PostgreSQL it is ``test_<name>``).
- Broker: the same ``CELERY_BROKER_URL``. With the filesystem broker each test gets a fresh folder,
  and the test process is re-pointed at it so both sides talk through the same files. With Redis
  the default queue is purged first so nothing left by an earlier test is consumed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kombu.pools
import psutil
import pytest
from django.db import connection

from cognition.celery import app

ROOT = Path(__file__).resolve().parent.parent
CELERY_BIN = ROOT / ".venv" / "bin" / "celery"
READY_TIMEOUT = 30.0


def database_url() -> str:
    """A ``DATABASE_URL`` for the database the test process is connected to right now."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(str(db['NAME'])).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(db.get("USER") or "")
        password = quote(db.get("PASSWORD") or "")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"
    raise RuntimeError(f"no DATABASE_URL for engine {db['ENGINE']}")


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


class CeleryWorker:
    """Start, kill and restart ``celery -A cognition worker`` processes for one test.

    ``cwd``: the project the worker runs (default: this one; a copy of it needs the copy on
    ``PYTHONPATH`` in ``env`` too, or the installed project would be imported instead)."""

    def __init__(self, env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        self.env = env
        self.log_dir = log_dir
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self._starts = 0

    def start(
        self, extra_env: dict[str, str] | None = None, *, concurrency: int = 2
    ) -> CeleryWorker:
        """Start a worker (``concurrency`` prefork children) and wait until it consumes."""
        assert self.process is None, "a worker is already running"
        self._starts += 1
        self.log_path = self.log_dir / f"worker-{self._starts}.log"
        env = {**self.env, **(extra_env or {})}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(CELERY_BIN),
                    "-A",
                    "cognition",
                    "worker",
                    "--pool",
                    "prefork",
                    "-c",
                    str(concurrency),
                    "-l",
                    "info",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"test-{uuid.uuid4().hex[:8]}@%h",
                ],
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the children
            )
        wait_until(self._ready, timeout=READY_TIMEOUT, interval=0.2, what="the worker to start")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.log()}")
        return " ready." in self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL the worker and its children at once, as a crashed machine would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def kill_pool_processes(self) -> None:
        """SIGKILL the pool's child processes only; the main process lives on and notices."""
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(signal.SIGKILL)

    def stop(self) -> None:
        """End the worker at the end of a test. Nothing it holds is needed any more, so no
        graceful shutdown (which takes seconds) is waited for."""
        self.kill()


def _point_app_at(transport_options: dict[str, Any]) -> None:
    """Make this process's Celery app publish with ``transport_options`` from now on: drop its
    cached connection and producer pools (private attributes; Celery resets them the same way
    after a fork)."""
    celery_app: Any = app
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # kombu keeps producer pools in a process-wide registry keyed by connection URL; the one
    # for this broker still holds the connection pool just closed.
    kombu.pools.reset()
    app.conf.broker_transport_options = transport_options


def _purge_redis_queue() -> None:
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        channel.queue_purge(app.conf.task_default_queue)
        # Messages a killed worker held, which Redis would hand back after the visibility timeout.
        client = getattr(channel, "client", None)
        if client is not None:
            client.delete("unacked", "unacked_index", "unacked_mutex")


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[CeleryWorker]:
    """A worker factory bound to this test's database and broker; stops every worker after."""
    previous_options = dict(app.conf.broker_transport_options or {})
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))
    }
    env.update(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_ALWAYS_EAGER="false",
        AGENT_BACKEND="scripted",
        PIPELINE_HEARTBEAT_SECONDS="1",
        DEMO="0",
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    )
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = tmp_path / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        env["CELERY_FILESYSTEM_BROKER_DIR"] = str(folder)
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
        settings.CELERY_FILESYSTEM_BROKER_DIR = folder
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        _point_app_at(options)
    else:
        _purge_redis_queue()
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    worker = CeleryWorker(env, tmp_path)
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_always_eager = previous_eager
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            _point_app_at(previous_options)


# --- running the pipeline in the test process -------------------------------------------------


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks synchronously in the test process (``task_always_eager``).

    Celery reads its configuration once, so overriding ``CELERY_TASK_ALWAYS_EAGER`` in Django
    settings is not enough: the app's own configuration is switched and restored.
    """
    previous = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    # Propagating would turn a task's own retry (a ``Retry`` exception) into a test error; the
    # phase task records every failure on its item, where the tests look.
    app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous
