"""The filesystem broker hands a worker only messages written in full."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection

from cognition.filesystem_broker import Transport


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    with Connection("filesystem://", transport=Transport, transport_options=options) as broker:
        yield broker.default_channel


def test_the_settings_use_this_transport_for_the_filesystem_broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        assert settings.CELERY_BROKER_TRANSPORT == "cognition.filesystem_broker:Transport"
    else:
        assert not hasattr(settings, "CELERY_BROKER_TRANSPORT")


def test_a_message_put_is_taken_whole_and_leaves_nothing_behind(
    channel: Any, tmp_path: Path
) -> None:
    channel._put("phases", {"body": "vision-plan"})

    assert [path.name.endswith(".phases.msg") for path in (tmp_path / "queue").iterdir()] == [True]
    assert channel._get("phases") == {"body": "vision-plan"}
    assert list((tmp_path / "queue").iterdir()) == []


def test_a_message_still_being_written_is_not_taken(channel: Any, tmp_path: Path) -> None:
    # What a writer leaves in the folder until its message is complete: kombu's own writer puts
    # an empty file under the final name there, which a worker reads and dies on.
    (tmp_path / "queue" / ".1_a.phases.msg.partial").write_bytes(b"")

    with pytest.raises(Empty):
        channel._get("phases")
