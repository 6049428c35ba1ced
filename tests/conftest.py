"""Shared fixtures and the rule for tests that need real services.

Tests marked ``postgres``, ``redis`` or ``browser`` skip on a laptop that lacks the service, and
fail in CI (``CI=true``), where the service must be there.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_PATH = "/usr/bin/chromium"


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
    if marker == "browser":
        if not (os.path.exists(CHROMIUM_PATH) or shutil.which("chromium")):
            return f"Chromium is not installed at {CHROMIUM_PATH}"
        return None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in ("postgres", "redis", "browser"):
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
