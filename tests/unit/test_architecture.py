"""The layers of docs/architecture.md hold, for every import in bench/ (those inside
functions too), with no exemption: each layer imports only the layers its rule names, no
module imports itself back through any chain, no reader imports a renderer, an import
inside a function is there only to keep TensorFlow/Keras, JAX, PyTorch, Ray (or the
second-long imports of scikit-learn and matplotlib) from loading, with its reason beside
it, and nothing below the command line prints."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
DOC = ROOT / "docs" / "architecture.md"

# The rules, as docs/architecture.md states them (a test below holds the two equal).
MAY_IMPORT = {
    "core": {"core"},
    "keras": {"core", "keras"},
    "run": {"core", "keras", "run"},
    "report": {"core", "run", "report"},
    "api": {"core", "keras", "run", "report", "api"},
    "cli": {"core", "report", "api", "cli"},
    "entry": {"cli"},
}
READERS = {
    "bench.report.stats",
    "bench.report.golden",
    "bench.report.compare",
    "bench.core.results",
    "bench.run.runset",
    "bench.core.state",
}
RENDERERS = {"bench.report.figures", "bench.report.markdown"}
# What a lazy import may keep from loading: the frameworks and Ray (seconds, and GPU memory),
# and the libraries whose import alone costs a CLI's start-up half a second or more here
# (scikit-learn's datasets 1.3 s, scipy.stats 1.4 s, matplotlib 0.5 s; python -X importtime).
HEAVY = {
    "tensorflow",
    "keras",
    "tf_keras",
    "jax",
    "jaxlib",
    "torch",
    "ray",
    "sklearn",
    "scipy",
    "matplotlib",
}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(BENCH.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__",):
        return "entry"
    return parts[1]


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import loads (``from bench.core import data``: bench.core.data)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    found = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        found.append(full if full in MODULES else base)
    return found


@cache
def imports(module: str) -> list[tuple[str, ast.stmt, bool]]:
    """(imported module, statement, inside a function) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((t, child, in_function) for t in _targets(child))
            visit(child, inner)

    visit(tree, False)
    return found


def bench_imports(module: str) -> set[str]:
    return {t for t, _, _ in imports(module) if t.split(".")[0] == "bench" and t != "bench"}


@cache
def heavy(module: str) -> bool:
    """Whether importing ``module`` loads a framework or Ray (through its top-level imports)."""
    for target, _, lazy in imports(module):
        if lazy:
            continue
        if target.split(".")[0] in HEAVY or (target in MODULES and heavy(target)):
            return True
    return False


def test_every_module_sits_in_a_layer():
    assert {layer(m) for m in MODULES} <= set(MAY_IMPORT)
    assert {p.parent for p in BENCH.glob("*.py")} == {BENCH}
    loose = {p.name for p in BENCH.glob("*.py")}
    assert loose == {"__init__.py", "__main__.py"}, "a module outside the layer folders"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layer_rules(module):
    allowed = MAY_IMPORT[layer(module)]
    for imported in bench_imports(module):
        assert layer(imported) in allowed, f"{module} ({layer(module)}) imports {imported}"


def test_no_import_cycle():
    """Depth-first over every import, lazy ones included; a cycle is named whole."""
    done: set[str] = set()

    def walk(module: str, chain: list[str]) -> None:
        if module in chain:
            cycle = [*chain[chain.index(module) :], module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for imported in sorted(bench_imports(module)):
            if imported in MODULES:
                walk(imported, [*chain, module])
        done.add(module)

    for module in MODULES:
        walk(module, [])


@pytest.mark.parametrize("module", sorted(READERS))
def test_no_reader_imports_a_renderer(module):
    assert not bench_imports(module) & RENDERERS


@pytest.mark.parametrize("module", sorted(MODULES))
def test_an_import_inside_a_function_keeps_a_framework_from_loading(module):
    lines = MODULES[module].read_text(encoding="utf-8").splitlines()
    for target, node, lazy in imports(module):
        if not lazy:
            continue
        where = f"{module} line {node.lineno} ({target})"
        assert target.split(".")[0] in HEAVY or (target in MODULES and heavy(target)), (
            f"{where}: a lazy import of something light; import it at the top"
        )
        above = node.lineno - 2  # the reason may head a block of imports
        while above >= 0 and lines[above].lstrip().startswith(("import ", "from ")):
            above -= 1
        said = "".join(lines[max(above, 0) : node.lineno])
        assert "# lazy:" in said, f"{where}: say why beside it (# lazy: ...)"


def test_the_rule_checker_sees_a_cycle_and_a_lazy_light_import(tmp_path, monkeypatch):
    """The checks above can fail: a made-up pair of modules that import each other lazily."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from bench.core import b  # lazy: no reason\n")
    b.write_text("def g():\n    from bench.core import a\n")
    monkeypatch.setitem(MODULES, "bench.core.a", a)
    monkeypatch.setitem(MODULES, "bench.core.b", b)
    imports.cache_clear()
    heavy.cache_clear()
    try:
        with pytest.raises(pytest.fail.Exception, match="import cycle"):
            test_no_import_cycle()
        with pytest.raises(AssertionError, match="something light"):
            test_an_import_inside_a_function_keeps_a_framework_from_loading("bench.core.b")
    finally:
        imports.cache_clear()
        heavy.cache_clear()


# The layers that may print: the command line, and the entry point that starts it.
PRINTING = {"cli", "entry"}


def prints(source: str) -> list[int]:
    """The lines that name the built-in ``print``: a call (to any file), or ``print``
    handed on as a value (``key=print``, ``map(print, ...)``, ``say = print``)."""
    tree = ast.parse(source)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id == "print" and isinstance(node.ctx, ast.Load)
    ]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) not in PRINTING))
def test_nothing_below_the_command_line_prints(module):
    """Progress and notices go through ``logging`` (bench.core.console) or are returned."""
    found = prints(MODULES[module].read_text(encoding="utf-8"))
    assert not found, f"{module} prints on line(s) {found}: log it, or return it to the CLI"


@pytest.mark.parametrize(
    "source",
    [
        "print('x')",
        "import sys\nprint('x', file=sys.stderr, flush=True)",
        "def f(say=print):\n    say('x')",
        "list(map(print, [1]))",
        "say = print",
        "class A:\n    def f(self):\n        return lambda: print(1)",
    ],
)
def test_the_print_rule_sees_every_way_to_print(source):
    assert prints(source)


def test_the_print_rule_leaves_other_names_alone():
    assert not prints("def print_only(): pass\nx.print('y')\nargs.print_only = True")


def test_docs_state_the_same_rules():
    """docs/architecture.md's table "| layer | may import |" is MAY_IMPORT, row for row."""
    rows = re.findall(r"^\| `(\w+)/?` \| ([^|]+) \|", DOC.read_text(encoding="utf-8"), re.M)
    stated = {name: set(re.findall(r"`(\w+)`", allowed)) | {name} for name, allowed in rows}
    assert stated == {k: v for k, v in MAY_IMPORT.items() if k != "entry"}
