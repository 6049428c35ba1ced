"""The two Celery workers the console runs, as command lines (``runconsole`` and ``make bench``
start the same ones).

One worker with a small pool (and beat) takes the default queue: alert evaluation and
delivery, sweeps, roll-ups, pruning. Phase workers with a threads pool take the phases queue,
whose tasks spend their time waiting on the model; a phase runs in the worker's own process, so
no pool process can die under it. A phase's own work (the ORM, its commits, Celery) is Python
under one interpreter lock, so ``PHASE_WORKER_PROCESSES`` of them share the machine's cores,
each with ``PHASE_WORKER_CONCURRENCY`` threads.

The housekeeping pool is prefork on Redis and RabbitMQ, and threads on the filesystem broker:
that transport cannot wait on sockets, so the worker runs Celery's synchronous consumer loop,
and in that loop (Celery 5.7) it does not notice a prefork child killed by a signal. The task
that child held is neither given back nor failed, no new child replaces it, and once every
child is gone the worker consumes nothing while it still looks alive. A threads pool has no
children to lose.
"""

from __future__ import annotations

import sys

from django.conf import settings

#: Housekeeping tasks are short (an evaluation, a drain of 100 deliveries, a sweep): one
#: pool process (or thread) keeps up, and the memory of a second goes to a phase worker instead.
HOUSEKEEPING_PROCESSES = 1


def housekeeping_pool() -> str:
    """``prefork`` where the broker lets the worker notice a dead child, else ``threads``."""
    return "threads" if settings.CELERY_BROKER_URL.startswith("filesystem://") else "prefork"


def housekeeping_worker_command(
    concurrency: int,
    *,
    loglevel: str = "info",
    schedule: str | None = None,
) -> list[str]:
    """The worker for the default queue, with beat: a small pool (``housekeeping_pool``)."""
    return [
        sys.executable, "-m", "celery", "-A", "cognition", "worker", "--beat",
        "--pool", housekeeping_pool(), "--loglevel", loglevel, "--concurrency", str(concurrency),
        "--queues", settings.CELERY_TASK_DEFAULT_QUEUE, "--hostname", "housekeeping@%h",
        "--schedule", schedule or settings.CELERY_BEAT_SCHEDULE_FILENAME,
    ]  # fmt: skip


def phase_worker_command(threads: int, *, loglevel: str = "info", number: int = 1) -> list[str]:
    """Phase worker ``number`` for the phases queue: a threads pool, its tasks wait on the model."""
    return [
        sys.executable, "-m", "celery", "-A", "cognition", "worker",
        "--pool", "threads", "--concurrency", str(threads), "--queues", settings.PHASES_QUEUE,
        "--hostname", f"phases{number}@%h", "--loglevel", loglevel,
    ]  # fmt: skip


def phase_worker_commands(
    processes: int, threads: int, *, loglevel: str = "info"
) -> dict[str, list[str]]:
    """The phase workers by name (``phases1``, ``phases2``...), ``threads`` threads each."""
    return {
        f"phases{number}": phase_worker_command(threads, loglevel=loglevel, number=number)
        for number in range(1, processes + 1)
    }
