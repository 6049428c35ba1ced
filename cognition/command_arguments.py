"""Command-line values checked the same way by every management command.

Each check returns the parsed value or raises ``BadArgument`` with one line that names the
argument; commands turn it into a ``CommandError`` (exit 1), or their own "could not run" code.
Ids are checked in ``handle()`` rather than by an argparse ``type``: argparse would print its
usage and exit 2, which ``planner_health`` means as "critical". A number of seconds to wait is
an argparse ``type`` (``positive_seconds``): refused while the arguments are read, before the
command queues or sends anything, with argparse's usage error (exit 2).
"""

from __future__ import annotations

import argparse
import math

#: The largest id a row can have (a signed 64-bit primary key, on PostgreSQL and SQLite).
MAX_RECORD_ID = 2**63 - 1
#: How much of a rejected value a message repeats.
SHOWN_CHARACTERS = 40


class BadArgument(ValueError):
    """A command-line value that cannot be used; the message is one line naming it."""


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "…")


def record_id(value: str | int, what: str) -> int:
    """``value`` as a row id (a whole number from 1 to ``MAX_RECORD_ID``)."""
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise BadArgument(f"{what} must be a whole number, got {_shown(text)}.") from None
    if not 1 <= number <= MAX_RECORD_ID:
        raise BadArgument(f"{what} must be between 1 and {MAX_RECORD_ID}, got {_shown(text)}.")
    return number


def bounded_text(value: str, what: str, *, max_length: int) -> str:
    """``value`` when it is non-empty and fits its column."""
    if not value.strip():
        raise BadArgument(f"{what} must not be empty.")
    if len(value) > max_length:
        raise BadArgument(f"{what} must be at most {max_length} characters, got {len(value)}.")
    return value


def positive_seconds(value: str) -> float:
    """``value`` as a number of seconds above 0 (an argparse ``type``: a wait of 0 s, a
    negative one or one that is not a finite number is a usage error)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, got {_shown(value)}"
        ) from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0, got {_shown(value)}"
        )
    return seconds
