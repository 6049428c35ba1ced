"""`make bench`: the health report, the console, the pipeline and alert delivery at scale,
each measured beside its floor in the same run. Prints a table and writes
var/bench/results.json; exits 1 when a figure misses its goal."""

from __future__ import annotations

import io
import json
import platform
import time
from pathlib import Path
from typing import Any

import psycopg
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
from cognition.benchmarks.pipeline import pipeline_figure
from planners.console.views import CARDS


class Command(BaseCommand):
    help = "Benchmark our code against its floor on PostgreSQL and Redis."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=["small", "large", "both"], default="both")
        parser.add_argument("--repetitions", type=int, default=7)
        parser.add_argument("--pipelines", type=int, default=50)
        parser.add_argument("--deliveries", type=int, default=1000)
        parser.add_argument(
            "--skip", action="append", default=[], choices=["pipeline", "delivery", "console"]
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "DATABASE_URL must point at PostgreSQL for the benchmarks "
                "(make bench defaults to postgres://postgres@127.0.0.1:5432/planner_ops_bench)."
            )
        self._ensure_database()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("seed_planner_templates", stdout=io.StringIO())
        scales = ["small", "large"] if options["scale"] == "both" else [options["scale"]]
        figures: list[Figure] = []
        memory: dict[str, float] = {}
        queries: dict[str, int] = {}
        for scale_name in scales:
            started = time.perf_counter()
            counts = generate(SCALES[scale_name])
            self.stdout.write(
                f"[{scale_name}] generated {counts} in {time.perf_counter() - started:.1f} s"
            )
            health = health_report_figure(scale_name, options["repetitions"])
            figures.append(health)
            queries[scale_name] = health.detail["queries"]
            if "console" not in options["skip"]:
                figures.extend(
                    console_figures(scale_name, options["repetitions"], self._console_urls())
                )
            memory[scale_name] = report_memory_figure(scale_name)["peak_rss_mb"]
        last = scales[-1]
        if "delivery" not in options["skip"]:
            figures.append(alert_delivery_figure(last, options["deliveries"]))
        if "pipeline" not in options["skip"]:
            figures.append(pipeline_figure(last, options["pipelines"]))

        checks = self._cross_scale_checks(queries, memory)
        self._print_table(figures, checks, memory)
        self._write_results(figures, checks, memory, queries)
        if not all(f.passed for f in figures) or not all(ok for _, ok in checks):
            raise CommandError("Some figures missed their goal (see FAIL above).")

    def _ensure_database(self) -> None:
        db = settings.DATABASES["default"]
        try:
            connection.ensure_connection()
            return
        except Exception:
            connection.close()
        with psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=int(db.get("PORT") or 5432),
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f'CREATE DATABASE "{db["NAME"]}"')
        self.stdout.write(f"Created database {db['NAME']}.")

    def _console_urls(self) -> list[tuple[str, str]]:
        urls = [("page", reverse("console:dashboard")), ("health", reverse("console:health"))]
        urls += [(slug, reverse("console:card", args=[slug])) for slug in CARDS]
        return urls

    def _cross_scale_checks(
        self, queries: dict[str, int], memory: dict[str, float]
    ) -> list[tuple[str, bool]]:
        checks: list[tuple[str, bool]] = []
        if "small" in queries and "large" in queries:
            checks.append(
                (
                    f"health report queries: {queries['small']} at small, "
                    f"{queries['large']} at large (must be equal)",
                    queries["small"] == queries["large"],
                )
            )
        if "small" in memory and "large" in memory:
            growth = memory["large"] - memory["small"]
            checks.append(
                (
                    f"report peak RSS: {memory['small']:.1f} MB small, {memory['large']:.1f} MB "
                    f"large, growth {growth:.1f} MB (goal < 50 MB)",
                    growth < 50,
                )
            )
        return checks

    def _print_table(
        self, figures: list[Figure], checks: list[tuple[str, bool]], memory: dict[str, float]
    ) -> None:
        header = (
            f"{'figure':<28} {'scale':<6} {'ours ms':>10} {'floor ms':>10} {'ratio':>7}  result"
        )
        self.stdout.write("")
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for figure in figures:
            verdict = "PASS" if figure.passed else "FAIL"
            extra = ", ".join(f"{k}={v}" for k, v in figure.detail.items() if k != "url")
            self.stdout.write(
                f"{figure.name:<28} {figure.scale:<6} {figure.ours_ms:>10.2f} "
                f"{figure.floor_ms:>10.2f} {figure.ratio:>7.2f}  {verdict}  "
                f"({figure.goal}; {extra})"
            )
        for text, ok in checks:
            self.stdout.write(f"{'PASS' if ok else 'FAIL'}  {text}")

    def _write_results(
        self,
        figures: list[Figure],
        checks: list[tuple[str, bool]],
        memory: dict[str, float],
        queries: dict[str, int],
    ) -> None:
        out = Path(settings.VAR_DIR) / "bench" / "results.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "generated_at": timezone.now().isoformat(),
            "machine": {"python": platform.python_version(), "cpus": _cpu_count()},
            "database": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split("://")[0],
            "figures": [f.as_dict() for f in figures],
            "checks": [{"check": text, "passed": ok} for text, ok in checks],
            "report_peak_rss_mb": memory,
            "report_queries": queries,
        }
        out.write_text(json.dumps(results, indent=2))
        self.stdout.write(f"\nWrote {out}")


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0
