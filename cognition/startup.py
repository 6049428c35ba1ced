"""Start-up of every entry point: load the settings, validate the configuration, reach the database.

``manage.py``, ``cognition/wsgi.py`` and the Celery worker and beat (``cognition/celery.py``)
start through here. A configuration problem is printed as one ``Configuration error: VAR:
problem`` line each on stderr, with no traceback, and the process exits with status 1; a
command whose own codes give 1 another meaning passes its "could not run" status instead
(``planner_health`` exits 3, since its 1 means "degraded": ``manage.py`` says so).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import django
from celery.utils.log import LoggingProxy
from django.apps import apps
from django.conf import settings
from django.core.management import execute_from_command_line
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from cognition.config import ConfigurationError, Problem
from cognition.database_state import database_problem, pending_migrations
from cognition.typed_settings import validate_configuration

EXIT_CONFIGURATION_ERROR = 1


def exit_on_configuration_error(
    error: ConfigurationError, status: int = EXIT_CONFIGURATION_ERROR
) -> NoReturn:
    for problem in error.problems:
        sys.stderr.write(f"Configuration error: {problem.message}\n")
    sys.stderr.flush()
    sys.exit(status)


def load_settings() -> None:
    """Import the settings module now, so its ``ConfigurationError`` surfaces here."""
    _ = settings.INSTALLED_APPS


def check_database() -> None:
    """Connect once: an unreachable server is a configuration error naming ``DATABASE_URL``.

    SQLite is not probed: connecting would create the file, and its folder is checked when the
    settings load."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "sqlite":
        return
    try:
        if getattr(connection, "pool", None) is not None:
            # The pool would keep retrying for its timeout and then say only that it gave up:
            # one connection of its own says at once why the server cannot be reached.
            database: Any = connection.Database  # type: ignore[attr-defined]
            with connection.wrap_database_errors:
                database.connect(**connection.get_connection_params()).close()
        else:
            connection.ensure_connection()
    except DatabaseError as error:
        problem = Problem(_cannot_connect(connection.settings_dict, error))
        raise ConfigurationError([problem]) from error
    finally:
        # A worker forks after this, and runconsole starts children: no shared socket.
        connection.close()


def _cannot_connect(database: dict[str, Any], error: Exception) -> str:
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 'default port'}"
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return (
        f"DATABASE_URL: cannot connect to the database {database.get('NAME')!r} at {where} "
        f"({reason})."
    )


def start(
    *,
    validate: bool = True,
    reach_database: bool = True,
    error_status: int = EXIT_CONFIGURATION_ERROR,
) -> None:
    """Load the settings and set Django up; unless told otherwise, validate every typed settings
    block and reach the database. Exits with ``error_status`` on any configuration problem."""
    try:
        load_settings()
        if not apps.ready:
            # Once per process: a second setup would configure logging again, onto whatever
            # stderr is current (Celery's fixup may have set Django up already).
            django.setup()
        if validate:
            validate_configuration()
        if reach_database:
            check_database()
    except ConfigurationError as error:
        exit_on_configuration_error(error, error_status)


def run_on_a_migrated_database(argv: list[str], *, error_status: int) -> None:
    """Run the command in ``argv``. A database error on a database that lacks migrations (a
    fresh clone before ``make run``) is one line naming the fix, and ``error_status``."""
    try:
        execute_from_command_line(argv)
    except DatabaseError as error:
        if not pending_migrations():
            raise
        sys.stderr.write(database_problem(error) + "\n")
        sys.exit(error_status)


def load_settings_or_exit(**kwargs: Any) -> None:
    """Connected to the Celery app's ``on_configure``: Celery reads its configuration from the
    Django settings before any worker signal, and would print a bad value as a traceback."""
    try:
        load_settings()
    except ConfigurationError as error:
        exit_on_configuration_error(error)


def refuse_invalid_configuration(**kwargs: Any) -> None:
    """Connected to ``worker_init`` and ``beat_init``. Celery logs and swallows an exception
    from a signal handler, but not ``SystemExit``, so the process stops here."""
    redirected = sys.stderr
    if isinstance(redirected, LoggingProxy) and sys.__stderr__ is not None:
        # Beat has already pointed stderr at its logger; the lines belong on the terminal.
        sys.stderr = sys.__stderr__
    try:
        start()
    finally:
        sys.stderr = redirected
