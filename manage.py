#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

Every command starts by loading and validating the configuration: a problem prints one
``Configuration error: VAR: problem`` line each and exits 78 (``cognition.startup``).
"""

from __future__ import annotations

import os
import sys

# Commands that explain the configuration rather than run on it: they load the settings but do
# not stop on a settings block's problems, which they report themselves.
EXPLAINS_CONFIGURATION = {"check_ops_alerting"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")
    from django.core.management import execute_from_command_line

    from cognition.startup import start

    explains = bool(set(sys.argv[1:2]) & EXPLAINS_CONFIGURATION)
    start(validate=not explains, reach_database=not explains)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
