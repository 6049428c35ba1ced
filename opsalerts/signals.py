"""Start-up guard for the Celery worker and beat.

Celery's Django fixup runs the system checks but ignores their result, and Celery signal
handlers that raise ``Exception`` are only logged. ``SystemExit`` is not swallowed, so a bad
Ops alerting configuration stops the process with the same messages as ``manage.py check``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)


def refuse_invalid_ops_alerting(**kwargs: Any) -> None:
    """Connected to ``celery.signals.worker_init`` and ``beat_init`` (``cognition/celery.py``)."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    # Imported once Django is set up: a worker reaches here before its apps are loaded.
    from opsalerts.config import validate_ops_alerting

    problems = validate_ops_alerting()
    if not problems:
        return
    for message in problems:
        logger.error("Ops alerting configuration: %s", message)
    sys.exit(
        "Refusing to start: invalid Ops alerting configuration:\n"
        + "\n".join(f"  - {message}" for message in problems)
    )
