"""The engine knows no family: its modules import no family's code and name no family's
phases, templates or models. A family registers itself (``register_pipeline``) instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps

from planners.pipeline.registry import pipelines

ROOT = Path(__file__).resolve().parent.parent
ENGINE_MODULES = sorted(
    [
        *(ROOT / "planners" / "pipeline").glob("*.py"),
        *(ROOT / "planners" / "health").glob("*.py"),
        ROOT / "planners" / "tasks.py",
        *(ROOT / "planners" / "actions").glob("*.py"),
        ROOT / "planners" / "execution_rollup.py",
        ROOT / "planners" / "rollouts" / "verification.py",
        ROOT / "opsalerts" / "evaluation.py",
        ROOT / "opsalerts" / "actions.py",
    ]
)
FAMILY_PACKAGES = ("planners.fiction", "planners.nonfiction", "planners.models.fiction")


def _family_names() -> set[str]:
    """Every registered family's phase keys and planner slugs, and its models' class names."""
    names = {"planner.fiction", "planner.nonfiction"}
    for pipeline in pipelines.all():
        names.update(pipeline.phase_keys)
        names.update(pipeline.planner_slugs)
    for model in apps.get_app_config("planners").get_models():
        if model.__module__.startswith(("planners.models.fiction", "planners.models.nonfiction")):
            names.add(model.__name__)
    return names


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def _named(tree: ast.AST, names: set[str]) -> set[str]:
    """Family names used as identifiers or string literals (docstrings and comments aside)."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            used.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            used.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(name for name in names if node.value == name or f"{name}." in node.value)
    return used


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_module_imports_no_family(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    family_imports = [m for m in _imports(tree) if m.startswith(FAMILY_PACKAGES)]
    assert family_imports == [], f"{path.name} imports {family_imports}"


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_module_names_no_family_phase_template_or_model(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _named(tree, _family_names()) == set()


def test_the_families_are_registered_side_by_side() -> None:
    assert {"fiction", "nonfiction"} <= set(pipelines.slugs())
