"""What to tell a person whose command failed on the database: one line, and for a database
that was never migrated (or is behind the code), the command that fixes it."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

MIGRATE_HINT = "run `manage.py migrate` (`make run` does it on start)"


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> int:
    """How many migrations the database lacks; 0 when it cannot even be asked."""
    try:
        executor = MigrationExecutor(connections[alias])
        return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return 0


def database_problem(error: DatabaseError) -> str:
    """``error`` as one line, with the fix when the schema is behind the code."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    pending = pending_migrations()
    if pending:
        return f"Could not read the database: {reason}. {_not_applied(pending)}: {MIGRATE_HINT}."
    return f"Could not read the database: {reason}"


def _not_applied(pending: int) -> str:
    return "1 migration is not applied" if pending == 1 else f"{pending} migrations are not applied"
