"""`make run` serves where it is told and its links point there."""

from __future__ import annotations

import pytest

from cognition.management.commands.runconsole import public_base_url


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("localhost:9000", "http://localhost:9000"),
        ("8002", "http://127.0.0.1:8002"),
        ("0.0.0.0:8003", "http://127.0.0.1:8003"),
        ("[::]:8004", "http://127.0.0.1:8004"),
        ("[::1]:8005", "http://[::1]:8005"),
    ],
)
def test_links_point_at_the_address_the_console_serves_on(addr: str, url: str) -> None:
    assert public_base_url(addr) == url
