"""The Celery application shared by the web process, the worker and beat."""

from __future__ import annotations

import os

from celery import Celery, signals

from cognition.startup import load_settings_or_exit, refuse_invalid_configuration
from cognition.worker_identity import remember_worker_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cognition.settings")

app = Celery("cognition")
app.on_configure.connect(load_settings_or_exit, weak=False)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The worker and beat refuse to start on any configuration problem (cognition.startup).
signals.worker_init.connect(refuse_invalid_configuration)
signals.beat_init.connect(refuse_invalid_configuration)
# Each start of a worker draws the instance id its claims record (cognition.worker_identity).
signals.worker_init.connect(remember_worker_start)
