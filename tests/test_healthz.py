"""``GET /healthz``: database and broker liveness for load balancers, no login, no details."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client
from pytest_django import Settings

from cognition.build import package_version

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthz_is_ok_without_login_on_the_filesystem_broker(
    client: Client,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_FILESYSTEM_BROKER_DIR = tmp_path
    settings.APP_BUILD = "3f9c2e1"
    (tmp_path / "queue").mkdir()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok"},
        "version": package_version(),
        "build": "3f9c2e1",
    }
    assert "no-cache" in response["Cache-Control"]
    assert list((tmp_path / "queue").iterdir()) == [], "the write probe cleans up after itself"


def test_unwritable_filesystem_broker_is_unavailable(
    client: Client,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_FILESYSTEM_BROKER_DIR = tmp_path / "never-created"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "down"},
        "version": package_version(),
        "build": "",
    }


def test_unreachable_redis_broker_is_unavailable_without_leaking_details(
    client: Client,
    settings: Settings,
) -> None:
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{port}/5"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "down"},
        "version": package_version(),
        "build": "",
    }
    body = response.content.decode()
    assert "hunter2" not in body
    assert str(port) not in body


def test_database_outage_is_unavailable(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_FILESYSTEM_BROKER_DIR = tmp_path
    (tmp_path / "queue").mkdir()

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("could not connect to server at db.internal:5432")

    from cognition import health_views

    monkeypatch.setattr(health_views.connection, "cursor", refuse)
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "down", "broker": "ok"},
        "version": package_version(),
        "build": "",
    }
    assert b"db.internal" not in response.content


def test_healthz_answers_head_probes_and_refuses_writes(
    client: Client, settings: Settings, tmp_path: Path
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_FILESYSTEM_BROKER_DIR = tmp_path
    (tmp_path / "queue").mkdir()

    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
def test_healthz_is_ok_with_a_reachable_redis_broker(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}
