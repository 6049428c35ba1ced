"""Each benchmark figure: our code and its floor measured side by side in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import requests
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cognition.benchmarks.measure import capture_sql, replay_sql, time_calls
from opsalerts.models import Delivery
from opsalerts.tasks import deliver_due_deliveries
from planners.health import build_health_report


@dataclass
class Figure:
    name: str
    scale: str
    ours_ms: float
    floor_ms: float
    goal: str
    passed: bool
    detail: dict[str, Any]

    @property
    def ratio(self) -> float:
        return self.ours_ms / self.floor_ms if self.floor_ms else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


def health_report_figure(scale: str, repetitions: int) -> Figure:
    statements = capture_sql(build_health_report)
    ours = time_calls(build_health_report, repetitions)
    floor = time_calls(replay_sql(statements), repetitions)
    ratio = ours.median_ms / floor.median_ms
    return Figure(
        name="health report",
        scale=scale,
        ours_ms=ours.median_ms,
        floor_ms=floor.median_ms,
        goal="ratio <= 1.5, <= 15 queries, same count at small and large",
        passed=ratio <= 1.5 and len(statements) <= 15,
        detail={"queries": len(statements)},
    )


def console_figures(scale: str, repetitions: int, urls: list[tuple[str, str]]) -> list[Figure]:
    """The Backlog Telemetry page and each partial through the test client, against the SQL
    each request issues replayed straight on a cursor."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    figures = []
    for label, url in urls:
        headers = {} if label == "page" else {"HX-Request": "true"}

        def request(url: str = url, headers: dict[str, str] = headers) -> None:
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        statements = capture_sql(request)
        ours = time_calls(request, repetitions)
        floor = time_calls(replay_sql(statements), repetitions)
        ratio = ours.median_ms / floor.median_ms
        goal = "ratio <= 2" + (", p95 <= 300 ms at large" if label == "page" else "")
        passed = ratio <= 2 and (label != "page" or scale != "large" or ours.p95_ms <= 300)
        figures.append(
            Figure(
                name=f"console {label}",
                scale=scale,
                ours_ms=ours.median_ms,
                floor_ms=floor.median_ms,
                goal=goal,
                passed=passed,
                detail={"queries": len(statements), "p95_ms": round(ours.p95_ms, 2), "url": url},
            )
        )
    return figures


_PEAK_RSS_KB = """
def peak_rss_kb():
    # Linux keeps ru_maxrss across exec, so a child started by a process that once held a
    # gigabyte (the data generator) would report that gigabyte. VmHWM is this process's own.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def report_memory_figure(scale: str) -> dict[str, Any]:
    """Peak RSS of a fresh process that builds the report once."""
    code = (
        _PEAK_RSS_KB + "import django; django.setup()\n"
        "from planners.health import build_health_report; build_health_report()\n"
        "print(peak_rss_kb())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cognition.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {"scale": scale, "peak_rss_mb": int(result.stdout.strip().splitlines()[-1]) / 1024}


class Receiver:
    """The benchmark's webhook receiver, in its own process so it does not share our GIL."""

    def __enter__(self) -> Receiver:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cognition.benchmarks.receiver"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=settings.BASE_DIR,
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}/hook"
        return self

    def received(self) -> int:
        return int(requests.get(self.url, timeout=5).text)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def alert_delivery_figure(scale: str, count: int) -> Figure:
    """``count`` due deliveries drained by the worker's own task body (claim a batch, POST
    each, record the batch), against plain ``requests.post`` of the same payload in a loop."""
    with Receiver() as receiver:
        now = timezone.now()
        payload = {
            "schema_version": 1,
            "source": "planner-ops",
            "environment": settings.DEPLOY_ENVIRONMENT,
            "alerts": [{"id": "backlog:stale", "status": "firing", "severity": "warning"}],
        }
        Delivery.objects.filter(route="bench").delete()
        Delivery.objects.bulk_create(
            Delivery(
                route="bench",
                webhook_url=receiver.url,
                routing_key="bench",
                webhook_id=f"msg_{uuid.uuid4().hex}",
                payload=payload,
                next_attempt_at=now,
            )
            for _ in range(count)
        )
        started = time.perf_counter()
        attempted = deliver_due_deliveries()
        ours_s = time.perf_counter() - started

        body = json.dumps(payload)
        started = time.perf_counter()
        for _ in range(count):
            requests.post(
                receiver.url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=10,
                allow_redirects=False,
            )
        floor_s = time.perf_counter() - started
        received = receiver.received()
        sent = Delivery.objects.filter(route="bench", status=Delivery.Status.SENT).count()
        Delivery.objects.filter(route="bench").delete()
    ratio = ours_s / floor_s
    return Figure(
        name="alert delivery",
        scale=scale,
        ours_ms=ours_s * 1000 / count,
        floor_ms=floor_s * 1000 / count,
        goal="ratio <= 1.5",
        passed=ratio <= 1.5 and attempted == sent == count and received == 2 * count,
        detail={
            "deliveries": count,
            "deliveries_per_second": round(count / ours_s, 1),
            "sent": sent,
            "received": received,
        },
    )
