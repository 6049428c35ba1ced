"""What every outbound HTTP caller agrees on about a response status.

The agent and the webhook sender each make their own calls (their own sessions, timeouts and
error types); whether trying again can help is one decision, made here for both.
"""

from __future__ import annotations

#: Request Timeout and Too Many Requests: the server asks to be tried again later.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


def is_retryable_status(status: int) -> bool:
    """True when a failed response may succeed if sent again: 408, 429 and every 5xx.

    Other 4xx mean the request itself is wrong, and 3xx are redirects we never follow; sending
    either again gets the same answer.
    """
    return status in RETRYABLE_CLIENT_ERRORS or status >= 500
