"""The two Celery workers the console runs, as command lines (``runconsole`` and ``make bench``
start the same ones).

One worker with a small prefork pool (and beat) takes the default queue: alert evaluation and
delivery, sweeps, roll-ups, pruning. One with a threads pool takes the phases queue, whose tasks
spend their time waiting on the model.
"""

from __future__ import annotations

import sys

from django.conf import settings


def housekeeping_worker_command(
    concurrency: int,
    *,
    loglevel: str = "info",
    schedule: str | None = None,
) -> list[str]:
    """The worker for the default queue, with beat: a small prefork pool."""
    return [
        sys.executable, "-m", "celery", "-A", "cognition", "worker", "--beat",
        "--loglevel", loglevel, "--concurrency", str(concurrency),
        "--queues", settings.CELERY_TASK_DEFAULT_QUEUE, "--hostname", "housekeeping@%h",
        "--schedule", schedule or settings.CELERY_BEAT_SCHEDULE_FILENAME,
    ]  # fmt: skip


def phase_worker_command(threads: int, *, loglevel: str = "info") -> list[str]:
    """The worker for the phases queue: a threads pool, its tasks wait on the model."""
    return [
        sys.executable, "-m", "celery", "-A", "cognition", "worker",
        "--pool", "threads", "--concurrency", str(threads),
        "--queues", settings.PHASES_QUEUE, "--hostname", "phases@%h", "--loglevel", loglevel,
    ]  # fmt: skip
