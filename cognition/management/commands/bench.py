"""`make bench`: the figures users wait for, each beside its floor measured in the same run or
against an absolute budget: the pipeline's makespan (unlimited and rate-limited) through the
console's two workers, the console and health report at scale, and alert delivery. Prints a
table and writes var/bench/results.json; exits 1 when a figure misses its goal, or, with
``--smoke`` (CI), only when something went wrong."""

from __future__ import annotations

import io
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cognition.benchmarks.datagen import SCALES, generate
from cognition.benchmarks.figures import (
    Figure,
    alert_delivery_figure,
    console_figures,
    health_report_figure,
    report_memory_figure,
)
from cognition.benchmarks.pipeline import makespan_figures, rate_limited_figure
from planners.console.cards.registry import CARDS

#: What ``--smoke`` runs: every part, small and quick; only errors fail it.
SMOKE = {
    "scale": "small",
    "repetitions": 3,
    "plans": 3,
    "latency": 0.05,
    "rate_plans": 3,
    "deliveries": 200,
}


class Command(BaseCommand):
    help = "Benchmark the figures users wait for on PostgreSQL and Redis."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=["small", "large", "both"], default="both")
        parser.add_argument("--repetitions", type=int, default=15)
        parser.add_argument("--plans", type=int, default=100, help="plans in the makespan run")
        parser.add_argument("--latency", type=float, default=1.0, help="seconds a model call")
        parser.add_argument("--rate-plans", type=int, default=100, help="plans, rate-limited")
        parser.add_argument("--requests-per-minute", type=int, default=600)
        parser.add_argument("--server-rate", type=int, default=10, help="model's calls a second")
        parser.add_argument("--deliveries", type=int, default=1000)
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=["pipeline", "rate-limited", "delivery", "console"],
        )
        parser.add_argument(
            "--smoke",
            action="store_true",
            help="every part at a small size; exits non-zero on errors only, not timings",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["smoke"]:
            options.update(SMOKE)
        if connection.vendor != "postgresql":
            raise CommandError(
                "DATABASE_URL must point at PostgreSQL for the benchmarks "
                "(make bench defaults to postgres://postgres@127.0.0.1:5432/planner_ops_bench)."
            )
        began = time.perf_counter()
        load_before = os.getloadavg()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_planner_templates", stdout=io.StringIO())
        scales = ["small", "large"] if options["scale"] == "both" else [options["scale"]]
        figures: list[Figure] = []
        memory: dict[str, float] = {}
        for scale_name in scales:
            started = time.perf_counter()
            counts = generate(SCALES[scale_name])
            self._say(f"[{scale_name}] generated {counts} in {time.perf_counter() - started:.1f} s")
            figures.append(health_report_figure(scale_name, options["repetitions"]))
            if "console" not in options["skip"]:
                figures += console_figures(scale_name, options["repetitions"], self._urls())
            memory[scale_name] = report_memory_figure(scale_name)["peak_rss_mb"]
        last = scales[-1]
        if "delivery" not in options["skip"]:
            self._say("alert delivery")
            figures.append(alert_delivery_figure(last, options["deliveries"]))
        if "pipeline" not in options["skip"]:
            self._say(f"pipeline: {options['plans']} plans, {options['latency']:g} s a call")
            figures += makespan_figures(last, options["plans"], options["latency"])
        if "rate-limited" not in options["skip"]:
            self._say(
                f"pipeline, rate-limited: {options['rate_plans']} plans, "
                f"{options['requests_per_minute']} requests a minute, "
                f"the model answers 429 above {options['server_rate']} a second"
            )
            figures.append(
                rate_limited_figure(
                    last,
                    options["rate_plans"],
                    options["latency"],
                    options["requests_per_minute"],
                    options["server_rate"],
                )
            )

        checks = _cross_scale_checks(figures, memory)
        wall = time.perf_counter() - began
        load = {"before": load_before, "after": os.getloadavg()}
        self._print_table(figures, checks, wall, load)
        self._write_results(figures, checks, memory, wall, load, smoke=options["smoke"])
        errors = [f for f in figures if f.error]
        for figure in errors:
            self.stderr.write(f"{figure.name} ({figure.scale}): {figure.error}")
        if errors:
            raise CommandError(f"{len(errors)} figures could not be measured (see above).")
        missed = [f for f in figures if f.passed is False] + [t for t, ok in checks if not ok]
        if missed and not options["smoke"]:
            raise CommandError(f"{len(missed)} figures missed their goal (see FAIL above).")

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _urls(self) -> list[tuple[str, str]]:
        urls = [
            ("page", reverse("console:dashboard")),
            ("health banner", reverse("console:health")),
        ]
        urls += [(slug, reverse("console:card", args=[slug])) for slug in CARDS]
        return urls

    def _print_table(
        self,
        figures: list[Figure],
        checks: list[tuple[str, bool]],
        wall: float,
        load: dict[str, tuple[float, float, float]],
    ) -> None:
        header = (
            f"{'figure':<24} {'scale':<6} {'ours':>10} {'floor':>10} {'ratio':>6}  "
            f"{'goal':<40} result"
        )
        self.stdout.write("")
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for f in figures:
            floor = "" if f.floor is None else f"{f.floor:.2f}"
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
            extra = ", ".join(f"{k}={v}" for k, v in f.detail.items() if k != "url")
            self.stdout.write(
                f"{f.name:<24} {f.scale:<6} {f.ours:>8.2f}{f.unit:<2} {floor:>10} {ratio:>6}  "
                f"{f.goal:<40} {f.verdict}  ({extra})"
            )
        for text, ok in checks:
            self.stdout.write(f"{'PASS' if ok else 'FAIL'}  {text}")
        self.stdout.write(
            f"\nWall time {wall:.0f} s on {os.cpu_count()} CPUs; load average "
            f"{' '.join(f'{x:.2f}' for x in load['before'])} before, "
            f"{' '.join(f'{x:.2f}' for x in load['after'])} after."
        )

    def _write_results(
        self,
        figures: list[Figure],
        checks: list[tuple[str, bool]],
        memory: dict[str, float],
        wall: float,
        load: dict[str, tuple[float, float, float]],
        *,
        smoke: bool,
    ) -> None:
        out = Path(settings.VAR_DIR) / "bench" / "results.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "generated_at": timezone.now().isoformat(),
            "smoke": smoke,
            "wall_seconds": round(wall, 1),
            "load_average": load,
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "database": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split("://")[0],
            "figures": [f.as_dict() for f in figures],
            "checks": [{"check": text, "passed": ok} for text, ok in checks],
            "report_peak_rss_mb": memory,
        }
        out.write_text(json.dumps(results, indent=2))
        self.stdout.write(f"Wrote {out}")


def _cross_scale_checks(figures: list[Figure], memory: dict[str, float]) -> list[tuple[str, bool]]:
    """Every console request and the report send as many queries at large as at small."""
    queries: dict[str, dict[str, int]] = {}
    for figure in figures:
        if "queries" in figure.detail:
            queries.setdefault(figure.name, {})[figure.scale] = figure.detail["queries"]
    checks = []
    for name, by_scale in queries.items():
        if {"small", "large"} <= by_scale.keys():
            checks.append(
                (
                    f"{name} queries: {by_scale['small']} at small, {by_scale['large']} at large",
                    by_scale["small"] == by_scale["large"],
                )
            )
    if {"small", "large"} <= memory.keys():
        growth = memory["large"] - memory["small"]
        checks.append(
            (
                f"report peak RSS: {memory['small']:.1f} MB small, {memory['large']:.1f} MB "
                f"large, growth {growth:.1f} MB (goal < 50 MB)",
                growth < 50,
            )
        )
    return checks
