"""The Celery application shared by the web process, the worker and beat."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")

app = Celery("cognition")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def refuse_invalid_ops_alerting(**kwargs: Any) -> None:
    """The worker and beat refuse to start on a bad Ops alerting configuration."""
    # Imported when the signal fires: this module loads before Django's apps do.
    from opsalerts.signals import refuse_invalid_ops_alerting as guard

    guard(**kwargs)
