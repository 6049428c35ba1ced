"""``python manage.py rollout_status``: the planners-by-environments rollout matrix."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from planners.rollouts.queries import MatrixCell, rollout_matrix


def _cell_text(cell: MatrixCell) -> str:
    if cell.sign_off is not None:
        return f"signed off {cell.sign_off.deployment_date:%Y-%m-%d} by {cell.sign_off.owner_name}"
    if cell.checklist is not None:
        return f"{cell.status.label.lower()} ({cell.required_done}/{cell.required_total})"
    return cell.status.label.lower()


class Command(BaseCommand):
    help = "Print the rollout state of every planner in every environment."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        matrix = rollout_matrix()
        if options["json"]:
            data = {
                row.planner.slug: {
                    cell.environment.name: {
                        "status": str(cell.status),
                        "required_done": cell.required_done,
                        "required_total": cell.required_total,
                        "signed_off_by": cell.sign_off.owner_name if cell.sign_off else None,
                        "deployment_date": cell.sign_off.deployment_date.isoformat()
                        if cell.sign_off
                        else None,
                    }
                    for cell in row.cells
                }
                for row in matrix.rows
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        header = ["PLANNER", *(env.name.upper() for env in matrix.environments)]
        table = [header] + [
            [row.planner.slug, *(_cell_text(cell) for cell in row.cells)] for row in matrix.rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        for line in table:
            self.stdout.write(
                "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
            )
