#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Every command starts by loading and validating the configuration: a problem prints one
``Configuration error: VAR: problem`` line each and exits 1 (``cognition.startup``), or the
command's own "could not run" status where 1 means something else.
"""

from __future__ import annotations

import os
import sys

# Commands that explain the configuration rather than run on it: they load the settings but do
# not stop on a settings block's problems, which they report themselves.
EXPLAINS_CONFIGURATION = {"check_ops_alerting"}
# Commands whose exit status 1 means something else: their status for "could not run".
COULD_NOT_RUN_STATUS = {"planner_health": 3}  # 0 healthy, 1 degraded, 2 critical
# Commands that work on the schema itself: a database error is theirs to report.
WORKS_ON_THE_SCHEMA = {
    "migrate", "makemigrations", "showmigrations", "sqlmigrate", "squashmigrations", "runconsole",
}  # fmt: skip


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")
    from django.core.management import execute_from_command_line

    from cognition.startup import run_on_a_migrated_database, start

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    explains = command in EXPLAINS_CONFIGURATION
    error_status = COULD_NOT_RUN_STATUS.get(command, 1)
    start(validate=not explains, reach_database=not explains, error_status=error_status)
    if command in WORKS_ON_THE_SCHEMA:
        execute_from_command_line(sys.argv)
    else:
        run_on_a_migrated_database(sys.argv, error_status=error_status)


if __name__ == "__main__":
    main()
