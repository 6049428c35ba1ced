"""``startplanner``: a new planner written the runbook's way, and how the app finds it.

A scaffolded planner is a package ``planners/<module>/`` with ``planner.py`` (parameters and the
planner class on ``PlannerBase``, registered with ``@register_planner``), ``runner.py`` (the
``PhaseRunner`` that turns a backlog item into its parameters and its reply into a summary),
``pipeline.py`` (the planner's place in a pipeline: a one-phase pipeline of its own, or a phase
added to a registered pipeline after one of its phases), ``scripted_replies.py`` and a test under
``tests/``. Nothing else needs an edit: ``PlannersConfig.ready()`` calls
``import_planner_packages()``, which imports every ``planners/<package>/planner.py`` and then its
``pipeline.py``, after the built-in families, so the catalog and the pipeline registry (and with
them template seeding, ``run_pipeline``, health, alert drills, the console and rollouts) list the
new planner in every process: web, worker and tests.
"""

from __future__ import annotations

import importlib
import keyword
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from planners.framework.catalog import catalog
from planners.pipeline.registry import AFTER_PREFIX, PipelineError, pipelines

logger = logging.getLogger(__name__)

PLANNERS_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = Path(__file__).resolve().parent / "scaffold_templates"
#: Packages and modules of the ``planners`` app that are not planners (and names a planner may
#: not take).
RESERVED = frozenset(
    {"admin", "console", "fiction", "framework", "health", "management", "migrations", "models"}
    | {"nonfiction", "pipeline", "rollouts", "tests", "planners", "scaffold_templates"}
    | {"actions", "api_auth", "api_urls", "api_views", "apps", "checks", "demo", "tasks"}
    | {"execution_rollup", "scheduling", "transitions", "unproduced_inputs", "urls"}
)
#: What a planner name may hold: words of letters and digits, separated by spaces, - or _.
NAME_PATTERN = re.compile(r"[A-Za-z0-9 _-]+")
#: The longest module name a planner may have: every generated line then fits in 100 columns.
MAX_MODULE_LENGTH = 24
#: The project's own ``from ... import ...`` statements (one line, or a parenthesised list).
PROJECT_IMPORT = re.compile(r"from (?:cognition|planners)\.\S+ import (?:\(\n(?:    .*\n)*\)|.*)\n")


class ScaffoldError(Exception):
    """A planner that cannot be scaffolded; the message says why in one line."""


# --- finding scaffolded planners -------------------------------------------------------------


def planner_packages(root: Path = PLANNERS_DIR) -> list[str]:
    """The packages under ``root`` that hold a scaffolded planner, in name order."""
    return [
        path.parent.name
        for path in sorted(root.glob("*/planner.py"))
        if path.parent.name not in RESERVED and (path.parent / "__init__.py").exists()
    ]


def import_planner_packages(root: Path = PLANNERS_DIR) -> list[str]:
    """Import ``planners.<package>.planner`` for every scaffolded package (registering the
    planner), then ``planners.<package>.pipeline`` where it exists (registering its phase).
    Call it once the built-in families are registered: a phase may extend their pipelines."""
    packages = planner_packages(root)
    for package in packages:
        importlib.import_module(f"planners.{package}.planner")
    _import_pipelines([p for p in packages if (root / p / "pipeline.py").exists()])
    return packages


def _import_pipelines(packages: list[str]) -> None:
    """Import each package's ``pipeline.py``. One that extends the pipeline of another
    scaffolded package may sort before it, so what fails is tried again after the others, for
    as long as that makes progress; the first error is raised when it no longer does."""
    waiting = packages
    while waiting:
        failed: list[tuple[str, PipelineError]] = []
        for package in waiting:
            try:
                importlib.import_module(f"planners.{package}.pipeline")
            except PipelineError as exc:
                failed.append((package, exc))
        if len(failed) == len(waiting):
            raise failed[0][1]
        waiting = [package for package, _ in failed]


# --- names and placement ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlannerNames:
    """Every spelling of a new planner's name, derived once from what the user typed."""

    module: str  # risk_review
    slug: str  # risk-review
    class_name: str  # RiskReview
    phase: str  # riskReview
    title: str  # Risk Review
    template_id: str  # planner.riskReview

    @property
    def display_name(self) -> str:
        return f"{self.title} Planner"

    @classmethod
    def from_name(cls, name: str) -> PlannerNames:
        if not NAME_PATTERN.fullmatch(name):
            raise ScaffoldError(
                f"{name!r} is not a usable planner name: use letters, digits, spaces, - and _ "
                "only (e.g. risk_review)."
            )
        words = [w.lower() for w in re.split(r"[ _-]+|(?<=[a-z0-9])(?=[A-Z])", name) if w]
        if words and words[-1] == "planner":
            words = words[:-1]
        if not words or not words[0][0].isalpha():
            raise ScaffoldError(
                f"{name!r} is not a usable planner name: start with a letter (e.g. risk_review)."
            )
        module = "_".join(words)
        if len(module) > MAX_MODULE_LENGTH:
            raise ScaffoldError(
                f"{name!r} is too long for a planner name: its module {module!r} may have at "
                f"most {MAX_MODULE_LENGTH} characters."
            )
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


def refuse_registered(names: PlannerNames) -> None:
    """``ScaffoldError`` when a registered planner or pipeline already uses one of the names."""
    if names.slug in catalog:
        raise ScaffoldError(f"A planner with slug {names.slug!r} is already registered.")
    if names.slug in pipelines:
        raise ScaffoldError(f"A pipeline with slug {names.slug!r} is already registered.")
    taken_by = pipelines.planner_by_phase().get(names.phase)
    if taken_by is not None:
        raise ScaffoldError(
            f"Phase {names.phase!r} is already run by planner {taken_by!r}; choose another name."
        )
    found = catalog.step_for_template(names.template_id)
    if found is not None:
        raise ScaffoldError(
            f"Template {names.template_id!r} already belongs to planner {found[0].slug!r}."
        )
    if any(p.metadata.name.lower() == names.display_name.lower() for p in catalog.all()):
        raise ScaffoldError(f"A planner named {names.display_name!r} is already registered.")


@dataclass(frozen=True)
class Placement:
    """Where the new planner runs: a one-phase pipeline of its own (``pipeline`` empty), or as
    a phase of the registered pipeline ``pipeline`` right after its phase ``after``."""

    pipeline: str = ""
    after: str = ""

    @property
    def extends(self) -> bool:
        return bool(self.pipeline)


def place_phase(pipeline_slug: str | None, after: str | None) -> Placement:
    """The placement ``--pipeline`` and ``--after`` ask for (``after`` defaults to the
    pipeline's last phase); ``ScaffoldError`` names what exists when they name nothing."""
    if not pipeline_slug:
        if after:
            raise ScaffoldError("--after needs --pipeline: name the pipeline the phase joins.")
        return Placement()
    if pipeline_slug not in pipelines:
        known = ", ".join(pipelines.slugs()) or "(none)"
        raise ScaffoldError(f"Unknown pipeline {pipeline_slug!r}; registered pipelines: {known}.")
    pipeline = pipelines.get(pipeline_slug)
    after = after or pipeline.phase_keys[-1]
    if not pipeline.has_phase(after):
        raise ScaffoldError(
            f"Pipeline {pipeline_slug!r} has no phase {after!r}; its phases: "
            f"{', '.join(pipeline.phase_keys)}."
        )
    return Placement(pipeline=pipeline_slug, after=after)


# --- writing the files -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScaffoldResult:
    names: PlannerNames
    placement: Placement
    files: list[Path]


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _render(template: str, names: PlannerNames, placement: Placement) -> str:
    text = (TEMPLATES_DIR / template).read_text(encoding="utf-8")
    values = {
        "module": names.module,
        "package": f"planners.{names.module}",
        "slug": names.slug,
        "class_name": names.class_name,
        "phase": names.phase,
        "title": names.title,
        "display_name": names.display_name,
        "description": f"Plans {names.title.lower()} work (scaffolded; describe it here).",
        "step_id": f"{names.slug}-plan",
        "template_id": names.template_id,
        "pipeline": placement.pipeline,
        "after": placement.after,
        "after_input": f"{AFTER_PREFIX}{placement.after}",
        # Spelt for identifiers (test names): a pipeline slug may hold "-".
        "pipeline_name": _identifier(placement.pipeline),
        "after_name": _identifier(placement.after),
    }
    if template == "test.py-tpl":
        fragment = "test_extension.py-tpl" if placement.extends else "test_own_pipeline.py-tpl"
        values["placement_test"] = _render(fragment, names, placement).rstrip("\n")
    return _sort_project_imports(Template(text).substitute(values))


def _sort_project_imports(text: str) -> str:
    """``text`` with its first run of project imports in the order ruff's isort keeps them:
    where ``planners.<module>`` falls among them depends on the planner's name."""
    run = re.search(f"(?:{PROJECT_IMPORT.pattern})+", text)
    if run is None:
        return text
    statements = [m.group(0) for m in PROJECT_IMPORT.finditer(run.group(0))]
    ordered = sorted(statements, key=lambda statement: _natural(statement.split()[1]))
    return text[: run.start()] + "".join(ordered) + text[run.end() :]


def _natural(module: str) -> str:
    """Case-insensitive, with runs of digits compared as numbers, as ruff's isort compares."""
    return re.sub(r"\d+", lambda digits: digits.group(0).zfill(20), module.lower())


def scaffold_planner(
    names: PlannerNames, target: Path, placement: Placement | None = None
) -> ScaffoldResult:
    """Write the planner package and its test under ``target`` (the project root).

    Refuses to overwrite anything: a half-written planner is worse than none.
    """
    placement = placement or Placement()
    package_dir = target / "planners" / names.module
    pipeline_template = "pipeline_extension.py-tpl" if placement.extends else "pipeline.py-tpl"
    files = {
        package_dir / "__init__.py": "package_init.py-tpl",
        package_dir / "planner.py": "planner.py-tpl",
        package_dir / "runner.py": "runner.py-tpl",
        package_dir / "pipeline.py": pipeline_template,
        package_dir / "scripted_replies.py": "scripted_replies.py-tpl",
        target / "tests" / f"test_planner_{names.module}.py": "test.py-tpl",
    }
    clash = target / "planners" / f"{names.module}.py"
    if clash.exists():
        raise ScaffoldError(f"Refusing to scaffold: {clash} already exists.")
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise ScaffoldError("Refusing to overwrite: " + ", ".join(existing))
    rendered = {path: _render(template, names, placement) for path, template in files.items()}
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    logger.info("scaffolded planner %s under %s", names.slug, target)
    return ScaffoldResult(names, placement, list(files))
