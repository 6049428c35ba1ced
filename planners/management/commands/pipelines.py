"""``manage.py pipelines [--json]``: every registered pipeline with its phases in order."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from planners.framework.catalog import catalog
from planners.pipeline.registry import Pipeline, pipelines


def describe(pipeline: Pipeline) -> dict[str, Any]:
    """A pipeline as the command prints it: its phases, their planners and templates."""
    return {
        "slug": pipeline.slug,
        "name": pipeline.name,
        "description": pipeline.description,
        "phases": [
            {
                "key": spec.key,
                "label": spec.title,
                "planner": spec.planner,
                "templates": (
                    list(catalog.get(spec.planner).metadata.template_ids)
                    if spec.planner in catalog
                    else []
                ),
                "starts_with_plan": spec.starts_with_plan,
                "creates": spec.creates,
            }
            for spec in pipeline.phases
        ],
    }


class Command(BaseCommand):
    help = "List every registered pipeline with its phases in order, their planners and templates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        described = [describe(pipeline) for pipeline in pipelines.all()]
        if options["json"]:
            self.stdout.write(json.dumps({"pipelines": described}, indent=2))
            return
        for pipeline in described:
            self.stdout.write(self.style.MIGRATE_HEADING(f"{pipeline['slug']}: {pipeline['name']}"))
            for number, phase in enumerate(pipeline["phases"], start=1):
                notes = []
                if phase["starts_with_plan"]:
                    notes.append("starts with the plan")
                if phase["creates"]:
                    notes.append(f"adds {phase['creates']} items")
                extra = f"  ({'; '.join(notes)})" if notes else ""
                self.stdout.write(
                    f"  {number}. {phase['key']:<18} planner {phase['planner']:<18} "
                    f"{', '.join(phase['templates']) or '(planner not registered)'}{extra}"
                )
