"""What a reproduction's report must hold: shared by the GPU suite and its CPU smoke twin."""

from __future__ import annotations

from pathlib import Path

from bench.core import experiments, results

SECTIONS = [
    "## Accuracy",
    "## Ranking",
    "## Per-class F1",
    "## Learning rate at the post's logged epochs",
    "## Throughput",
    "## Figures",
    "## Environment",
    "## Errata in the post",
    "## Failed or missing runs",
]


def table_rows(text: str, section: str) -> list[list[str]]:
    """The cells of the markdown table under ``## <section>`` (header and rule left out)."""
    body = text.split(f"## {section}")[1].split("\n## ")[0]
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in body.splitlines()
        if line.startswith("|")
    ][2:]


def accuracy_rows(text: str) -> dict[str, list[str]]:
    return {row[0]: row for row in table_rows(text, "Accuracy")}


def check_report(folder: Path, names: list[str], seeds: int, epochs: int) -> str:
    """Assert the report in ``folder`` is complete for these runs; return its text."""
    text = (folder / "REPORT.md").read_text(encoding="utf-8")
    positions = [text.find(section) for section in SECTIONS]
    assert -1 not in positions and positions == sorted(positions), positions
    assert "| runs finished" in text and f"{len(names) * seeds} of {len(names) * seeds}" in text
    rows = accuracy_rows(text)
    # The experiments that ran, in the suite's order; none the set did not ask for.
    assert list(rows) == [n for n in experiments.ALL if n in names]
    for name in names:
        assert rows[name][3].endswith(f"({seeds})"), rows[name]
        for seed in range(seeds):
            run = results.read(folder / "runs" / results.file_name(name, seed))
            assert len(run["history"]["lr"]) == epochs
        for png in (f"lr_{name}.png", f"train_{name}.png"):
            assert (folder / png).read_bytes()[:4] == b"\x89PNG" and f"]({png})" in text
    assert (folder / "val_accuracy.png").exists()
    assert text.split("## Failed or missing runs")[1].strip() == "None."
    return text
