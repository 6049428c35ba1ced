"""The non-fiction planning pipeline: three planners, their reply shapes, runners and replies.

Importing this package registers the three planners in the catalog, in pipeline order (which is
why the imports below are not sorted), then the pipeline and its scripted replies.
"""

from __future__ import annotations

# isort: off
from planners.nonfiction import brief  # noqa: F401
from planners.nonfiction import outline  # noqa: F401
from planners.nonfiction import section_draft  # noqa: F401
from planners.nonfiction import pipeline  # noqa: F401
# isort: on
