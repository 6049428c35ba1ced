"""Print the resolved Ops alerting configuration (secrets masked) and the verdict."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opsalerts.config import parse_ops_alerting
from opsalerts.config_display import describe_ops_alerting
from opsalerts.unrouted import severities_without_route, unrouted_severities_message


class Command(BaseCommand):
    help = "Show the resolved Ops alerting configuration and validate it (exit 1 when invalid)."
    # The system checks would stop this command before it could explain the problems.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        config, problems = parse_ops_alerting()
        unrouted = [] if problems else severities_without_route(config)
        warnings = [unrouted_severities_message(unrouted)] if unrouted else []
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "config": describe_ops_alerting(config),
                        "valid": not problems,
                        "problems": [{"id": p.code, "message": p.message} for p in problems],
                        "warnings": [{"id": "opsalerts.W001", "message": w} for w in warnings],
                    },
                    indent=2,
                )
            )
        else:
            self.stdout.write("Ops alerting configuration")
            for name, value in describe_ops_alerting(config).items():
                if name == "routes":
                    self.stdout.write(f"  routes ({len(value)}, first match wins):")
                    for index, route in enumerate(value):
                        self.stdout.write(
                            f"    [{index}] {route['match']} -> {route['channel']} "
                            f"{route['webhook_url']} (routing key {route['routing_key']})"
                        )
                    continue
                if isinstance(value, dict | list):
                    value = json.dumps(value) if value else "(none)"
                self.stdout.write(f"  {name}: {value}")
            if not config.enabled:
                self.stdout.write("  note: OPS_ALERTING_ENABLED is false; nothing is delivered.")
        if problems:
            if not options["json"]:
                self.stderr.write(self.style.ERROR(f"INVALID: {len(problems)} problem(s)"))
                for problem in problems:
                    self.stderr.write(f"  ({problem.code}) {problem.message}")
            raise CommandError("Ops alerting configuration is invalid.", returncode=1)
        if not options["json"]:
            for warning in warnings:
                self.stderr.write(self.style.WARNING(f"WARNING (opsalerts.W001): {warning}"))
            self.stdout.write(self.style.SUCCESS("OK: Ops alerting configuration is valid."))
