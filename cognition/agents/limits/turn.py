"""An agent whose call waits for the turn the provider limits gave it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from cognition.agents.base import (
    AgentError,
    AgentReply,
    AgentService,
    ChatMessage,
    RetryListener,
)
from cognition.agents.limits.pacing import Admission

logger = logging.getLogger(__name__)

#: A call that wakes up later than this after its turn does not go: it would leave less than
#: an interval before the next call, which is on time. It asks for a new turn instead.
LATE_SECONDS = 0.01


class AgentOnTurn:
    """``agent``, its first call sent at ``turn`` (Unix seconds). Waiting here, right before the
    request leaves, and not where the call was admitted, keeps the requests as far apart at the
    provider as their turns are, whatever the work in between. A call that missed its turn (a
    busy machine woke it late) asks ``rebook`` (an admission under the same lease) for another;
    if the backend was paused meanwhile it fails as the provider's 429 would, with the rest of
    the pause as its ``retry_after``. Later calls of the same run go at once."""

    def __init__(self, agent: AgentService, turn: float, rebook: Callable[[], Admission]) -> None:
        self.agent = agent
        self.provider = agent.provider
        self.model = agent.model
        self.turn = turn
        self.rebook = rebook

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        phase: str = "",
        on_retry: RetryListener | None = None,
    ) -> AgentReply:
        if self.turn:
            self._wait_for_turn()
        return self.agent.chat(messages, phase=phase, on_retry=on_retry)

    def _wait_for_turn(self) -> None:
        while True:
            delay = self.turn - time.time()
            if delay > 0:
                time.sleep(delay)
            late = time.time() - self.turn
            if late <= LATE_SECONDS:
                self.turn = 0.0
                return
            logger.info("agent call woke %.3fs after its turn; asking for another", late)
            admission = self.rebook()
            while not admission.admitted:
                if admission.reason == "paused":
                    raise AgentError(
                        "the provider limits paused this backend",
                        permanent=False,
                        status_code=429,
                        retry_after=admission.wait,
                    )
                time.sleep(admission.wait)
                admission = self.rebook()
            self.turn = admission.turn
