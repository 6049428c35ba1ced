"""``python manage.py planners``: the registered planners and the state of their templates.

The deploy runbook runs it to see, per planner step, whether the template it will render is
found, active and non-empty (and at which version) or whether the step will fall back to the
planner's built-in prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cognition.prompts import TemplateState, template_states
from planners.framework.catalog import catalog
from planners.framework.limits import critique_budget_for, quotas_for

COLUMNS = (
    "PLANNER",
    "SLUG",
    "CAPABILITIES",
    "STEP",
    "TEMPLATE",
    "FOUND",
    "ACTIVE",
    "VERSION",
    "PROMPT",
)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _prompt_source(state: TemplateState) -> str:
    if state.usable:
        return "template"
    if not state.found:
        return "fallback (missing)"
    if not state.active:
        return "fallback (inactive)"
    return "fallback (empty)"


def planner_rows() -> list[dict[str, Any]]:
    """One row per planner step, with its template state (one query for all templates)."""
    planners = catalog.all()
    states = template_states(t for p in planners for t in p.metadata.template_ids)
    rows = []
    for planner in planners:
        meta = planner.metadata
        quotas, critique = quotas_for(meta.slug), critique_budget_for(meta.slug)
        for step in meta.steps:
            state = states[step.template_id]
            rows.append(
                {
                    "planner": meta.name,
                    "slug": meta.slug,
                    "capabilities": list(meta.capabilities),
                    "step": step.id,
                    "template_id": step.template_id,
                    "variables": list(step.variables),
                    "found": state.found,
                    "active": state.active,
                    "version": state.version,
                    "empty": state.empty,
                    "used_fallback": not state.usable,
                    "prompt": _prompt_source(state),
                    "quotas": quotas.__dict__,
                    "critique": critique.__dict__,
                }
            )
    return rows


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()


class Command(BaseCommand):
    help = "List the registered planners: slug, capabilities, steps and template state."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print the rows as JSON instead of a table."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = planner_rows()
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No planners are registered.")
            return
        table = [
            (
                r["planner"],
                r["slug"],
                ", ".join(r["capabilities"]),
                r["step"],
                r["template_id"],
                _yes_no(r["found"]),
                _yes_no(r["active"]),
                "-" if r["version"] is None else str(r["version"]),
                r["prompt"],
            )
            for r in rows
        ]
        widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(COLUMNS)]
        self.stdout.write(_line(COLUMNS, widths))
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in table:
            self.stdout.write(_line(row, widths))
        fallbacks = sum(1 for r in rows if r["used_fallback"])
        summary = f"{len(rows)} step(s) in {len(catalog)} planner(s); {fallbacks} on fallback."
        style = self.style.WARNING if fallbacks else self.style.SUCCESS
        self.stdout.write(style(summary))
