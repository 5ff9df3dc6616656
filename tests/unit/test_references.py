"""Every reference in the repository's prose resolves: a path names a file that exists, a
dotted ``bench.`` name imports (module, then attributes), and nothing cites a document the
repository does not hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROSE = sorted(
    [
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("golden/*"),
        *ROOT.glob("reports/*.md"),
        *ROOT.rglob("bench/**/*.py"),
    ]
)
PATH = re.compile(r"(?<![\w./-])((?:bench|docs|golden|tests|reports|constraints|\.ci)/[\w./-]*\w)")
DOTTED = re.compile(r"`(bench(?:\.\w+)+)")


def _module_file(parts: list[str]) -> Path | None:
    if parts[:2] == ["bench", "golden_data"]:  # golden/, shipped under this name
        parts = ["golden", *parts[2:]]
    base = ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defined(node: ast.AST) -> dict[str, ast.AST]:
    """The names a module or class body defines, read without importing it (importing
    bench.keras would load TensorFlow)."""
    names: dict[str, ast.AST] = {}
    for child in getattr(node, "body", []):
        if isinstance(child, ast.FunctionDef | ast.ClassDef):
            names[child.name] = child
        elif isinstance(child, ast.Assign | ast.AnnAssign):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = child
        elif isinstance(child, ast.Import | ast.ImportFrom):
            names.update({(a.asname or a.name).split(".")[0]: child for a in child.names})
    return names


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = _module_file(parts[:cut])
        if path is None:
            continue
        node: ast.AST = ast.parse(path.read_text(encoding="utf-8"))
        for name in parts[cut:]:
            found = _defined(node).get(name)
            if found is None:
                return False
            if not isinstance(found, ast.ClassDef):
                return True  # an attribute of a value: not checked further
            node = found
        return True
    return False


@pytest.mark.parametrize("path", PROSE, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_reference_resolves(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    # A run set under reports/ that a command in the prose would make is an example, not a
    # reference; a link to one is checked.
    named = [p for p in PATH.findall(text) if not p.startswith("reports/")]
    named += re.findall(r"\]\((reports/[^)#]+)", text)
    missing = [p for p in named if not any(c in p for c in "*<{") and not (ROOT / p).exists()]
    assert not missing, f"{path.name} names files that do not exist: {sorted(set(missing))}"
    broken = [d for d in DOTTED.findall(text) if not _resolves(d)]
    assert not broken, f"{path.name} names what bench does not have: {sorted(set(broken))}"
    assert "DESIGN.md" not in text, f"{path.name} cites DESIGN.md, which is not in the repo"
