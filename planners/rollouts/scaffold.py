"""``startplanner``: a new planner written the runbook's way, and how the app finds it.

A scaffolded planner is a package ``planners/<module>/`` with ``planner.py`` (parameters and the
planner class on ``PlannerBase``, registered with ``@register_planner``), ``runner.py`` (the hook
that builds the ``PlannerContext`` and runs it), ``scripted_replies.py`` and a test under
``tests/``. Registration needs no edit anywhere: ``PlannersConfig.ready()`` calls
``import_planner_packages()``, which imports every ``planners/<package>/planner.py``, so the
catalog (and with it template seeding, health, the console and rollouts) lists the new planner
in every process: web, worker and tests.
"""

from __future__ import annotations

import importlib
import keyword
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

logger = logging.getLogger(__name__)

PLANNERS_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = Path(__file__).resolve().parent / "scaffold_templates"
#: Packages of the ``planners`` app that are not planners (and names a planner may not take).
RESERVED = frozenset(
    {"admin", "console", "fiction", "framework", "health", "management", "migrations", "models"}
    | {"rollouts", "tests", "planners", "scaffold_templates"}
)


def import_planner_packages(root: Path = PLANNERS_DIR) -> list[str]:
    """Import ``planners.<package>.planner`` for every package that has one (registering it)."""
    imported = []
    for path in sorted(root.glob("*/planner.py")):
        package = path.parent.name
        if package in RESERVED or not (path.parent / "__init__.py").exists():
            continue
        importlib.import_module(f"planners.{package}.planner")
        imported.append(package)
    return imported


class ScaffoldError(Exception):
    pass


@dataclass(frozen=True)
class PlannerNames:
    """Every spelling of a new planner's name, derived once from what the user typed."""

    module: str  # risk_review
    slug: str  # risk-review
    class_name: str  # RiskReview
    phase: str  # riskReview
    title: str  # Risk Review
    template_id: str  # planner.riskReview

    @classmethod
    def from_name(cls, name: str) -> PlannerNames:
        words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])", name) if w]
        if words and words[-1] == "planner":
            words = words[:-1]
        if not words or not words[0][0].isalpha():
            raise ScaffoldError(
                f"{name!r} is not a usable planner name: use words such as risk_review."
            )
        module = "_".join(words)
        if module in RESERVED or keyword.iskeyword(module):
            raise ScaffoldError(f"{module!r} is reserved; choose another planner name.")
        phase = words[0] + "".join(w.capitalize() for w in words[1:])
        return cls(
            module=module,
            slug="-".join(words),
            class_name="".join(w.capitalize() for w in words),
            phase=phase,
            title=" ".join(w.capitalize() for w in words),
            template_id=f"planner.{phase}",
        )


@dataclass(frozen=True)
class ScaffoldResult:
    names: PlannerNames
    files: list[Path]


def _render(template: str, names: PlannerNames) -> str:
    text = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    return Template(text).substitute(
        module=names.module,
        package=f"planners.{names.module}",
        slug=names.slug,
        class_name=names.class_name,
        phase=names.phase,
        title=names.title,
        display_name=f"{names.title} Planner",
        description=f"Plans {names.title.lower()} work (scaffolded; describe it here).",
        step_id=f"{names.slug}-plan",
        template_id=names.template_id,
    )


def scaffold_planner(names: PlannerNames, target: Path) -> ScaffoldResult:
    """Write the planner package and its test under ``target`` (the project root).

    Refuses to overwrite anything: a half-written planner is worse than none.
    """
    package_dir = target / "planners" / names.module
    files = {
        package_dir / "__init__.py": "package_init.py-tpl",
        package_dir / "planner.py": "planner.py-tpl",
        package_dir / "runner.py": "runner.py-tpl",
        package_dir / "scripted_replies.py": "scripted_replies.py-tpl",
        target / "tests" / f"test_planner_{names.module}.py": "test.py-tpl",
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScaffoldError("Refusing to overwrite: " + ", ".join(existing))
    rendered = {path: _render(template, names) for path, template in files.items()}
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    logger.info("scaffolded planner %s under %s", names.slug, target)
    return ScaffoldResult(names, list(files))
