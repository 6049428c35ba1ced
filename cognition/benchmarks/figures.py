"""The figures users wait for, each beside its floor (measured in the same run) or a budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cognition.benchmarks.measure import capture_sql, time_calls
from opsalerts.models import Delivery
from opsalerts.tasks import deliver_due_deliveries
from planners.health import build_health_report


@dataclass
class Figure:
    """One figure a user waits for: ours, and the floor it is held to when it has one (else an
    absolute budget in ``goal``). ``passed`` is None for a figure reported without a goal;
    ``error`` says the run went wrong (plans that did not complete, deliveries not sent)."""

    name: str
    scale: str
    ours: float
    unit: str
    goal: str
    passed: bool | None
    floor: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    #: A rate (deliveries a second): the ratio is then the floor's rate over ours.
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if not self.floor or not self.ours:
            return None
        return self.floor / self.ours if self.higher_is_better else self.ours / self.floor

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return {True: "PASS", False: "FAIL", None: "-"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            **asdict(self),
            "ratio": None if ratio is None else round(ratio, 3),
            "result": self.verdict,
        }


#: Budgets at the large scale on a two-core machine, in milliseconds.
HEALTH_REPORT_BUDGET_MS = 100
PAGE_P95_BUDGET_MS = 250
CARD_BUDGET_MS = 60


def health_report_figure(scale: str, repetitions: int) -> Figure:
    queries = len(capture_sql(build_health_report))
    ours = time_calls(build_health_report, repetitions)
    budgeted = scale == "large"
    return Figure(
        name="health report",
        scale=scale,
        ours=ours.median_ms,
        unit="ms",
        goal=f"median <= {HEALTH_REPORT_BUDGET_MS} ms" if budgeted else "queries as at large",
        passed=ours.median_ms <= HEALTH_REPORT_BUDGET_MS if budgeted else None,
        detail={"queries": queries, "p95_ms": round(ours.p95_ms, 2)},
    )


def console_figures(scale: str, repetitions: int, urls: list[tuple[str, str]]) -> list[Figure]:
    """The Backlog Telemetry page (p95) and each partial it loads (median) through the test
    client, against budgets at the large scale; query counts at every scale."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    budgeted = scale == "large"
    figures = []
    for label, url in urls:
        headers = {} if label == "page" else {"HX-Request": "true"}

        def request(url: str = url, headers: dict[str, str] = headers) -> None:
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        queries = len(capture_sql(request))
        timing = time_calls(request, repetitions)
        if label == "page":
            ours, goal = timing.p95_ms, f"p95 <= {PAGE_P95_BUDGET_MS} ms"
            passed = ours <= PAGE_P95_BUDGET_MS
        elif label == "health banner":
            # Not a card: the health report as the page serves it, held to the report's budget.
            ours, goal = timing.median_ms, f"median <= {HEALTH_REPORT_BUDGET_MS} ms"
            passed = ours <= HEALTH_REPORT_BUDGET_MS
        else:
            ours, goal = timing.median_ms, f"median <= {CARD_BUDGET_MS} ms"
            passed = ours <= CARD_BUDGET_MS
        figures.append(
            Figure(
                name=f"console {label}" + (" p95" if label == "page" else ""),
                scale=scale,
                ours=ours,
                unit="ms",
                goal=goal if budgeted else "queries as at large",
                passed=passed if budgeted else None,
                detail={
                    "queries": queries,
                    "median_ms": round(timing.median_ms, 2),
                    "p95_ms": round(timing.p95_ms, 2),
                    "url": url,
                },
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


DELIVERIES_PER_SECOND_GOAL = 1000


def _queue_due_deliveries(url: str, payload: dict[str, object], count: int) -> None:
    Delivery.objects.filter(route="bench").delete()
    now = timezone.now()
    Delivery.objects.bulk_create(
        Delivery(
            route="bench",
            webhook_url=url,
            routing_key="bench",
            webhook_id=f"msg_{uuid.uuid4().hex}",
            payload=payload,
            next_attempt_at=now,
        )
        for _ in range(count)
    )


def _seconds_to_post_in_a_loop(url: str, payload: dict[str, object], count: int) -> float:
    """The floor: plain ``requests.post`` of the same payload, one after another."""
    body = json.dumps(payload)
    started = time.perf_counter()
    for _ in range(count):
        requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
            allow_redirects=False,
        )
    return time.perf_counter() - started


def alert_delivery_figure(scale: str, count: int) -> Figure:
    """``count`` due deliveries drained by the worker's own task body (claim a batch, POST
    each, record the batch), against plain ``requests.post`` of the same payload in a loop."""
    payload: dict[str, object] = {
        "schema_version": 1,
        "source": "planner-ops",
        "environment": settings.DEPLOY_ENVIRONMENT,
        "alerts": [{"id": "backlog:stale", "status": "firing", "severity": "warning"}],
    }
    with Receiver() as receiver:
        _queue_due_deliveries(receiver.url, payload, count)
        started = time.perf_counter()
        attempted = deliver_due_deliveries()
        ours_s = time.perf_counter() - started
        floor_s = _seconds_to_post_in_a_loop(receiver.url, payload, count)
        received = receiver.received()
        sent = Delivery.objects.filter(route="bench", status=Delivery.Status.SENT).count()
        Delivery.objects.filter(route="bench").delete()
    ratio = ours_s / floor_s
    per_second = count / ours_s
    complete = attempted == sent == count and received == 2 * count
    return Figure(
        name="alert delivery",
        scale=scale,
        ours=per_second,
        floor=count / floor_s,
        unit="/s",
        higher_is_better=True,
        goal=f">= {DELIVERIES_PER_SECOND_GOAL}/s, ratio <= 1.5",
        passed=per_second >= DELIVERIES_PER_SECOND_GOAL and ratio <= 1.5,
        detail={
            "deliveries": count,
            "ours_ms_each": round(ours_s * 1000 / count, 3),
            "floor_ms_each": round(floor_s * 1000 / count, 3),
            "sent": sent,
            "received": received,
        },
        error="" if complete else f"{sent} of {count} sent, {received} received",
    )
