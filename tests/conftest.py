"""Shared fixtures and the rule for tests that need real services.

Tests marked ``postgres``, ``redis`` or ``browser`` skip on a laptop that lacks the service, and
fail in CI (``CI=true``), where the service must be there.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

from cognition.celery import app
from cognition.models import ProcessHeartbeat
from planners.framework.catalog import catalog
from planners.rollouts.actions.checklists import ensure_environments
from tests.channel_fakes import ChannelFake, pagerduty_fake, slack_fake, teams_fake
from tests.factories.liveness import record_workers_and_beat
from tests.servers import SIGNING_SECRET, ChatServer, Receiver
from tests.toy_planner import ToyPlanner
from tests.worker import (
    CeleryWorker,
    database_url,
    point_app_at,
    purge_redis_queues,
    redis_database_of_process,
    use_own_redis_database,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_PATH = "/usr/bin/chromium"
#: Seconds between a test worker's looks at its filesystem broker folder (see ``celery_worker``).
TEST_BROKER_POLL_SECONDS = 0.05
ALERTMANAGER_PATH = "/usr/bin/prometheus-alertmanager"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def redis_url() -> str | None:
    """The Redis broker the suite runs against, if the suite is configured for one."""
    url = settings.CELERY_BROKER_URL
    return url if url.startswith("redis://") else None


# Under pytest-xdist (``-n``) every test process has its own database (pytest-django adds the
# process's suffix to the test database's name), its own broker folders (per test, below) and
# its own Redis database, so no worker consumes a task another process published.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if XDIST_WORKER:
    use_own_redis_database(XDIST_WORKER)


def pytest_configure(config: pytest.Config) -> None:
    """Before xdist starts its processes: stop at once when Redis has too few databases."""
    processes = getattr(config.option, "numprocesses", None)
    if not XDIST_WORKER and isinstance(processes, int) and processes > 0:
        redis_database_of_process(processes - 1)


def _missing_service(marker: str) -> str | None:
    if marker == "postgres":
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "DATABASE_URL does not point at PostgreSQL"
        return None
    if marker == "redis":
        url = redis_url()
        if url is None:
            return "CELERY_BROKER_URL is not a redis:// URL"
        parts = urlsplit(url)
        if not _port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
            return f"Redis is not reachable at {url}"
        return None
    if marker == "alertmanager":
        if not os.path.exists(ALERTMANAGER_PATH):
            return f"Alertmanager is not installed at {ALERTMANAGER_PATH}"
        return None
    if marker == "browser":
        if not (os.path.exists(CHROMIUM_PATH) or shutil.which("chromium")):
            return f"Chromium is not installed at {CHROMIUM_PATH}"
        return None
    return None


#: Tests that wait on real processes for seconds each: their files run first, so that under
#: ``make test`` the other processes fill in around them instead of one finishing alone.
LONG_RUNNING_MARKERS = ("worker", "browser", "deployment")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _run_long_files_first(items)
    for item in items:
        for marker in ("postgres", "redis", "browser", "alertmanager"):
            if item.get_closest_marker(marker) is None:
                continue
            reason = _missing_service(marker)
            if reason is None:
                continue
            if IN_CI:
                item.user_properties.append(("missing_service", reason))
                item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


def _run_long_files_first(items: list[pytest.Item]) -> None:
    """Files with a long-running test first, each file's tests kept together and in order (the
    same order in every pytest-xdist process, as it requires)."""
    long_files = {
        item.path
        for item in items
        if any(item.get_closest_marker(marker) for marker in LONG_RUNNING_MARKERS)
    }
    items.sort(key=lambda item: item.path not in long_files)


@pytest.fixture
def _fail_missing_service(request: pytest.FixtureRequest) -> None:
    for name, reason in request.node.user_properties:
        if name == "missing_service":
            pytest.fail(f"CI requires this service: {reason}")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """SQLite test databases live in a file (one per pytest process), so that worker
    subprocesses and live servers can open the same database as the test."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        test_dir = settings.VAR_DIR / "test-db"
        test_dir.mkdir(parents=True, exist_ok=True)
        db.setdefault("TEST", {})["NAME"] = str(test_dir / f"test-{os.getpid()}.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """The production hasher costs ~2 s per user on a loaded 2-core CI box; tests only need
    passwords to round-trip, so hash them with MD5 for the whole session."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _workers_and_beat_alive(request: pytest.FixtureRequest) -> None:
    """A test with the database runs as if the workers and beat of ``make run`` were up and
    recording their heartbeats, as in any deployment; without them every health report would
    be critical (``ops:workers-down``). Tests about liveness clear these rows first
    (``nothing_alive``)."""
    if request.node.get_closest_marker("django_db") is None and not (
        {"db", "transactional_db"} & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("_django_db_helper")
    record_workers_and_beat()
    # The environments a migration seeds: a transactional test before this one (in the same
    # test process) flushed every table, and the rollout tests expect them as migrated.
    ensure_environments()


@pytest.fixture
def nothing_alive() -> None:
    """No worker and no beat has recorded a heartbeat."""
    ProcessHeartbeat.objects.all().delete()


@pytest.fixture
def staff_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(
        username="olivia", password="ops-console-pass", is_staff=True
    )


@pytest.fixture
def staff_client(client: Client, staff_user: User) -> Client:
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_user(django_user_model: type[User]) -> User:
    return django_user_model.objects.create_user(username="paul", password="not-staff-pass")


# --- fake servers on 127.0.0.1 (tests/servers.py) ---------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The Ops alerting webhook target."""
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def alerting(settings: Any, receiver: Receiver) -> Any:
    """Ops alerting enabled, pointing at the receiver, signed, no debounce surprises."""
    settings.OPS_ALERTING_ENABLED = True
    settings.OPS_ALERTING_WEBHOOK_URL = receiver.url("/default")
    settings.OPS_ALERTING_ROUTING_KEY = "ops-default"
    settings.OPS_ALERTING_SIGNING_SECRET = SIGNING_SECRET
    settings.OPS_ALERTING_DEBOUNCE_SECONDS = "300"
    settings.OPS_ALERTING_REPEAT_SECONDS = "14400"
    settings.OPS_ALERTING_SEVERITY_FILTER = ""
    settings.OPS_ALERTING_ROUTES = ""
    settings.OPS_ALERTING_SLO_THRESHOLDS = ""
    settings.OPS_ALERTING_TIMEOUT_SECONDS = "5"
    settings.OPS_ALERTING_MAX_ATTEMPTS = "3"
    settings.PUBLIC_BASE_URL = "http://ops.example.test"
    return settings


@pytest.fixture
def pagerduty() -> Iterator[ChannelFake]:
    """PagerDuty's Events API v2 (``/v2/enqueue``), strict about its contract."""
    fake = pagerduty_fake()
    yield fake
    fake.stop()


@pytest.fixture
def slack() -> Iterator[ChannelFake]:
    """A Slack incoming webhook, strict about Block Kit."""
    fake = slack_fake()
    yield fake
    fake.stop()


@pytest.fixture
def teams() -> Iterator[ChannelFake]:
    """A Teams Workflows webhook that takes one Adaptive Card."""
    fake = teams_fake()
    yield fake
    fake.stop()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """An OpenAI-compatible chat completions API."""
    server = ChatServer().start()
    yield server
    server.stop()


# --- the framework's toy planner (tests/toy_planner.py) ---------------------------------------


@pytest.fixture
def toy() -> Iterator[ToyPlanner]:
    ToyPlanner.calls = []
    with catalog.registered(ToyPlanner) as (planner,):
        assert isinstance(planner, ToyPlanner)
        yield planner


# --- Celery: a real worker (tests/worker.py) or tasks run in the test process -----------------


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
        # Each phase handed to the next waits for the worker's next look at the folder: at
        # the default second, a five-phase pipeline spends five seconds just being noticed.
        # How often the worker looks is not what any test checks (Redis hands tasks over at
        # once and the same tests pass on it).
        env["CELERY_FILESYSTEM_BROKER_POLL_SECONDS"] = str(TEST_BROKER_POLL_SECONDS)
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": TEST_BROKER_POLL_SECONDS,
        }
        settings.CELERY_FILESYSTEM_BROKER_DIR = folder
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        point_app_at(options)
    else:
        purge_redis_queues()
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    worker = CeleryWorker(env, tmp_path)
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_always_eager = previous_eager
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            point_app_at(previous_options)


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
