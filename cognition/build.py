"""Which build of the product this deployment runs: the package version and ``APP_BUILD``.

Shown in the console footer and ``/healthz`` and recorded in rollout step notes and evidence,
so one record says which app build was signed off.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from django.conf import settings

PACKAGE = "planner-ops-console"


@dataclass(frozen=True)
class BuildInfo:
    version: str
    build: str

    @property
    def label(self) -> str:
        return f"{self.version}+{self.build}" if self.build else self.version

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "build": self.build}


@cache
def package_version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # a checkout run without ``pip install -e .``
        return "unknown"


def build_info() -> BuildInfo:
    return BuildInfo(version=package_version(), build=str(settings.APP_BUILD))
