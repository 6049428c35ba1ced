"""One rule for "is this HTTP status worth sending again", shared by the agent and webhooks."""

from __future__ import annotations

import pytest

from cognition.http import is_retryable_status


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_rate_limits_and_server_errors_are_retryable(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 301, 302, 400, 401, 403, 404, 409, 410, 422])
def test_other_statuses_are_not_retryable(status: int) -> None:
    assert not is_retryable_status(status)
