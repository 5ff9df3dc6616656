"""The use cases that only read run sets: the report, and the comparison of two sets."""

from __future__ import annotations

from pathlib import Path

from bench.report import compare as comparison
from bench.report import markdown
from bench.report.verdict import MAX_SLOWDOWN
from bench.run import runset


def report(folder: Path) -> Path:
    """Write ``folder``'s REPORT.md and figures (under the run set's lock); its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no results folder at {folder}")
    with runset.lock(folder):
        return markdown.write(folder)


def compare(baseline: Path, new: Path, max_slowdown: float = MAX_SLOWDOWN) -> comparison.Comparison:
    """Two run sets (before/after an upgrade, or two backends) held against each other."""
    return comparison.compare(Path(baseline), Path(new), max_slowdown)
