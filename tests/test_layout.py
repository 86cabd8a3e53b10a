"""The house rules of the code, held by reading its imports.

Imports run one way, from the composition down to storage; a capability never
imports one above it; views are pure functions of what they are given; nothing
but the composition and the tests reaches the local Slack and LLM (``bot.standin``).
Every module must belong to a layer, so a new file has to be placed deliberately.
"""

from __future__ import annotations

import ast
import functools
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage", "prompts")

# Top to bottom. A module may import from its own layer or any layer below it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("composition", ("bot.app", "bot.cli", "bot.demo", "bot.__main__", "bot.scheduler", "bot.server")),
    ("handlers", ("handlers",)),
    ("services", ("bot.services", "bot.ticker")),
    ("talent", ("bot.talent",)),
    ("home", ("bot.home",)),
    ("growth", ("bot.growth",)),
    ("coaching", ("bot.coaching",)),
    ("admin", ("bot.admin",)),
    ("debriefs", ("bot.debriefs",)),
    ("feedback", ("bot.feedback",)),
    ("people", ("bot.people",)),
    ("analytics", ("bot.analytics",)),
    (
        "infrastructure",
        (
            "bot.slack_gateway",
            "bot.outbox",
            "bot.modals",
            "bot.inbound",
            "bot.settings",
            "bot.logs",
            "bot.framework",
            "bot.timekeeping",
            "bot.text",
            "bot.errors",
            "bot.remembered",
            "bot.data",
        ),
    ),
    ("storage", ("storage", "prompts")),
]
PACKAGE_ROOTS = ("bot",)  # ``bot/__init__`` only documents; it imports nothing
STANDIN = "bot.standin"
MAY_USE_STANDIN = ("bot.demo", STANDIN)
# What a view may import from the handlers layer: ids, form parsing, other views.
VIEW_MAY_USE = ("handlers.views", "handlers.ids", "handlers.forms")
VIEW_MAY_NOT_REACH = ("bot.services", "bot.slack_gateway", "bot.outbox", "storage.db")


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(_within(module, prefix) for prefix in prefixes):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module this file imports from our own packages, with the line it is on."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return list(_imports_in(path.read_text(encoding="utf-8"), package))


@functools.cache
def _imports_in(source: str, package: str) -> tuple[tuple[int, str], ...]:
    """(By the text, so the planted copies below parse only the file that changed.)"""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` may name a submodule: count the deeper name.
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for name in names:
            if name.split(".")[0] in PACKAGES:
                found.append((node.lineno, name))
    return tuple(found)


def resolve(name: str, known: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is one of our modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return name


def violations() -> list[str]:
    known = modules()
    found: list[str] = []
    for module, path in known.items():
        if module in PACKAGE_ROOTS or _within(module, STANDIN):
            if _within(module, STANDIN):
                for line, name in imports_of(path, module):
                    target = resolve(name, known)
                    if not _within(target, STANDIN):
                        found.append(
                            f"{path.relative_to(ROOT)}:{line}: the stand-in "
                            f"imports {target}; it must stand apart"
                        )
            continue
        rank = layer_of(module)
        if rank is None:
            found.append(f"{path.relative_to(ROOT)}: belongs to no layer; place it in tests/test_layout.py")
            continue
        for line, name in imports_of(path, module):
            target = resolve(name, known)
            where = f"{path.relative_to(ROOT)}:{line}"
            if _within(target, STANDIN):
                if not any(_within(module, allowed) for allowed in MAY_USE_STANDIN):
                    found.append(f"{where}: {module} uses the stand-in {target}")
                continue
            target_rank = layer_of(target)
            if target_rank is None:
                if target not in PACKAGE_ROOTS:
                    found.append(f"{where}: imports {target}, which belongs to no layer")
                continue
            if target_rank < rank:
                found.append(
                    f"{where}: {module} ({LAYERS[rank][0]}) imports {target} "
                    f"({LAYERS[target_rank][0]}), which stands above it"
                )
            if (
                _within(module, "handlers.views")
                and _within(target, "handlers")
                and not any(_within(target, allowed) for allowed in VIEW_MAY_USE)
            ):
                found.append(
                    f"{where}: the view {module} imports {target}; views are "
                    "pure functions of what they are given"
                )
            if _within(module, "handlers.views") and (
                target in VIEW_MAY_NOT_REACH or _within(target, "storage.repositories")
            ):
                found.append(f"{where}: the view {module} reaches {target}; views do no I/O")
    return found


def test_imports_run_one_way() -> None:
    assert violations() == []


def test_queries_live_only_in_repositories() -> None:
    """``select(``/``session.exec`` outside storage would put a query above the repositories."""
    offenders: list[str] = []
    for module, path in modules().items():
        if _within(module, "storage") or _within(module, STANDIN):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ("from sqlmodel import" in line and "select" in line) or ".exec(" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_no_environment_below_the_settings() -> None:
    offenders: list[str] = []
    for module, path in modules().items():
        if module == "bot.settings":
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "getenv(" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.parametrize(
    ("module", "imported", "expected"),
    [
        ("bot.people.directory", "bot.feedback.cards", "stands above it"),
        ("bot.feedback.cards", "bot.coaching.service", "stands above it"),
        ("handlers.views.home", "bot.services", "views do no I/O"),
        ("handlers.views.home", "handlers.home", "views are pure functions"),
        ("bot.outbox", "bot.standin.webapi", "uses the stand-in"),
        ("bot.people.access", "bot.admin.service", "stands above it"),
        ("bot.feedback.cards", "bot.admin.audit", "stands above it"),
    ],
)
def test_the_checker_catches_what_it_forbids(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    imported: str,
    expected: str,
) -> None:
    """Plant a forbidden import in a copy of the tree and see the checker name it."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "data")
        )
    target = tmp_path / Path(*module.split("."))
    path = target / "__init__.py" if target.is_dir() else target.with_suffix(".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\nimport {imported}\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert any(expected in line for line in violations())
