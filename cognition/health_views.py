"""``GET /healthz``: is this process able to serve? For load balancers and uptime checks.
``GET /healthz/workers``: are the Celery workers and beat alive? For an external uptime check,
the dead-man's switch for when alerting itself is down.

``/healthz`` checks the two things every request path depends on, the database and the Celery
broker, with short timeouts, and answers 200 or 503. It says which dependency is down but never
why: the endpoint needs no login, so error text (hosts, credentials, paths) stays in the log.
"""

from __future__ import annotations

import logging
import tempfile

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cognition.build import build_info
from cognition.liveness import current_liveness

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def database_is_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("healthz: database check failed", exc_info=True)
        return False
    return True


def _filesystem_broker_is_up() -> bool:
    """The filesystem transport is up when its queue folder exists and takes a file."""
    folder = settings.CELERY_FILESYSTEM_BROKER_DIR / "queue"
    try:
        # A real write (then removed): os.access() says yes on read-only mounts as root.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-", suffix=".probe"):
            pass
    except OSError:
        logger.warning("healthz: broker folder %s is not writable", folder, exc_info=True)
        return False
    return True


def broker_is_up() -> bool:
    url: str = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        return _filesystem_broker_is_up()
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception:
        # kombu raises transport-specific errors (socket, redis, amqp); any of them means down.
        logger.warning("healthz: broker check failed", exc_info=True)
        return False
    return True


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    checks = {
        "database": "ok" if database_is_up() else "down",
        "broker": "ok" if broker_is_up() else "down",
    }
    build = build_info().to_dict()
    if all(state == "ok" for state in checks.values()):
        return JsonResponse({"status": "ok", "checks": checks, **build})
    return JsonResponse({"status": "unavailable", "checks": checks, **build}, status=503)


@never_cache
@require_safe
def healthz_workers(request: HttpRequest) -> HttpResponse:
    """200 when at least one worker and the beat were seen within three of their intervals,
    503 otherwise; either way with what was seen (hosts, pids, queues and times: no secrets)."""
    try:
        liveness = current_liveness()
    except DatabaseError:
        logger.warning("healthz/workers: database check failed", exc_info=True)
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    body = {"status": "ok" if liveness.ok else "unavailable", **liveness.to_dict()}
    return JsonResponse(body, status=200 if liveness.ok else 503)
