"""The fiction planning pipeline: five planners, their reply shapes, runners and scripted replies.

Importing this package registers the five planners in the catalog (``PlannersConfig.ready``
does it at start-up) in pipeline order, which is why the imports below are not sorted.
"""

from __future__ import annotations

# isort: off
from planners.fiction import vision  # noqa: F401
from planners.fiction import iterative  # noqa: F401
from planners.fiction import chapter_architect  # noqa: F401
from planners.fiction import scroll_refiner  # noqa: F401
from planners.fiction import scene_weaver  # noqa: F401
# isort: on
