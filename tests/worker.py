"""A real Celery worker subprocess for tests, on the same database and broker as the test.

Ask for the ``celery_worker`` fixture (``conftest.py``) and mark the test ``@pytest.mark.worker``
and ``@pytest.mark.django_db(transaction=True)`` (the worker is another process: it only sees
committed rows).

- Database: the worker gets ``DATABASE_URL`` for the pytest test database (for SQLite the conftest
  makes that a file under ``var/test-db``; for PostgreSQL it is ``test_<name>``, with xdist's
  ``_gwN`` suffix when the suite runs in several processes).
- Broker: the same ``CELERY_BROKER_URL``. With the filesystem broker each test gets a fresh folder,
  and the test process is re-pointed at it so both sides talk through the same files. With Redis
  the queues are purged first so nothing left by an earlier test is consumed, and each xdist
  process uses a Redis database of its own (``use_own_redis_database``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import kombu.pools
import psutil
import pytest
from django.conf import settings
from django.db import connection

from cognition.celery import app

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0
#: Redis's default number of databases (``databases`` in redis.conf).
REDIS_DATABASES = 16


def celery_command(*args: str) -> list[str]:
    """``celery -A cognition <args>`` run by the interpreter running the tests, wherever its
    environment lives."""
    return [sys.executable, "-m", "celery", "-A", "cognition", *args]


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
        self,
        extra_env: dict[str, str] | None = None,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        queues: str = "celery,phases",
        beat: bool = False,
        node: str = "",
    ) -> CeleryWorker:
        """Start a worker (by default two prefork children consuming every queue, so one
        process runs the phases and the housekeeping; with ``beat``, beat embedded as
        ``make run`` has it) and wait until it consumes. ``node``: its node name (``-n``), to
        start the same worker again as ``make run`` does; by default a new name each start,
        as another machine's worker would have."""
        assert self.process is None, "a worker is already running"
        self._starts += 1
        self.log_path = self.log_dir / f"worker-{self._starts}.log"
        env = {**self.env, **(extra_env or {})}
        embedded_beat = (
            ["--beat", "--schedule", str(self.log_dir / "celerybeat-schedule")] if beat else []
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                celery_command(
                    "worker",
                    "--pool",
                    pool,
                    "-c",
                    str(concurrency),
                    "-Q",
                    queues,
                    "-l",
                    "info",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    node or f"test-{uuid.uuid4().hex[:8]}@%h",
                    *embedded_beat,
                ),
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches the children
            )
        wait_until(self._ready, timeout=READY_TIMEOUT, interval=0.05, what="the worker to start")
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


def point_app_at(transport_options: dict[str, Any]) -> None:
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


def purge_redis_queues() -> None:
    """Empty every queue a test worker consumes, so nothing an earlier test published runs."""
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        for queue in (app.conf.task_default_queue, settings.PHASES_QUEUE):
            channel.queue_purge(queue)
        # Messages a killed worker held, which Redis would hand back after the visibility timeout.
        client = getattr(channel, "client", None)
        if client is not None:
            client.delete("unacked", "unacked_index", "unacked_mutex")


def redis_database_of_process(index: int) -> str | None:
    """The Redis broker URL of test process ``index`` (``gw<index>``): the database ``index``
    places after the one ``CELERY_BROKER_URL`` names; None when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        return None
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or "0") + index
    if database >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"CELERY_BROKER_URL: test process {index + 1} needs Redis database {database}, "
            f"past the last one ({REDIS_DATABASES - 1}); use a lower database or fewer processes."
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def use_own_redis_database(xdist_worker: str) -> None:
    """Point this test process (pytest-xdist's ``gwN``) at its own Redis database: the suite's
    own ``CELERY_BROKER_URL``, the workers it starts and the provider limits all follow
    ``settings.CELERY_BROKER_URL``."""
    own = redis_database_of_process(int(xdist_worker.removeprefix("gw")))
    if own is None:
        return
    settings.CELERY_BROKER_URL = own
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    os.environ["CELERY_BROKER_URL"] = own
    app.conf.update(broker_url=own)
