"""The layers of docs/architecture.md hold: every import inside bench/ points up the list
(to a module that comes earlier), so data flows one way and no reader imports a renderer."""

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# docs/architecture.md's order, top (imported by all) to bottom (imports the rest).
LAYERS = [
    "checks", "files", "stop", "backend", "schedules", "experiments", "compat", "data", "results",
    "resnet", "keras_schedule", "state", "train", "lifecycle", "lr_find", "runset", "reproduce",
    "ray_runs", "stats", "golden", "speed", "progbar", "plots", "report", "compare", "backends",
    "drift", "cli", "__main__",
]  # fmt: skip
# The post's public LearningRateDecay.plot draws its figure through bench.plots.
ALLOWED_UPWARD = {("schedules", "plots")}
READERS = {"stats", "golden", "runset", "compare", "results"}
RENDERERS = {"plots", "report"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench"):
            if node.module == "bench":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bench.")}
    return found


def test_every_module_is_placed_in_a_layer():
    modules = {p.stem for p in BENCH.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", LAYERS)
def test_imports_point_up_the_layers(module):
    position = LAYERS.index(module)
    for imported in _imports(BENCH / f"{module}.py"):
        if (module, imported) not in ALLOWED_UPWARD:
            assert LAYERS.index(imported) < position, f"{module} imports {imported}"


@pytest.mark.parametrize("module", sorted(READERS))
def test_no_reader_imports_a_renderer(module):
    assert not _imports(BENCH / f"{module}.py") & RENDERERS
