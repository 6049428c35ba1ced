"""The filesystem broker (kombu's ``filesystem://``) with messages that appear whole.

kombu writes a message into the queue folder under its final name, then fills it; a worker that
lists the folder in between takes an empty message and stops with "Unrecoverable error:
JSONDecodeError" (celery/kombu#1551). Here a message is written under a name no consumer takes,
then renamed to its final name, which a rename within one folder does atomically.
``CELERY_BROKER_TRANSPORT`` points Celery at this transport when the URL is ``filesystem://``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's stubs give the filesystem channel's _put a signature of its own, as kombu does.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` on ``queue``: kombu's file name (milliseconds first, so the folder
        sorts in the order messages were sent), written in full before it carries that name."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: kombu takes a file for ``queue`` only when what follows its first dot
        # is ``<queue>.msg``.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
