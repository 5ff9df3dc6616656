"""``python -m bench compare BASELINE NEW``: did anything regress between two results sets?

For each experiment in BASELINE (e.g. the runs before a TensorFlow upgrade) against NEW:

- accuracy: NEW's mean may not fall below BASELINE's by more than the tolerance of
  ``bench.report`` (binomial test noise at BASELINE's accuracy, and the seeds' spread of
  both sets);
- learning rate: the per-epoch rates of runs with the same seed must be equal, exactly
  (they are the schedule's float32 values, so any change is a change of behaviour);
- speed: NEW's median ms/step (epochs 2 on) may be at most ``max_slowdown`` times
  BASELINE's; compared only when both ran on the same devices.

Exit code 0 when nothing regressed, 1 when something did, 2 on unreadable input.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from bench import experiments, report

MAX_SLOWDOWN = 1.25


def _seed_std(group: list[dict]) -> float:
    accs = [r["evaluation"]["accuracy"] for r in group]
    return statistics.stdev(accs) if len(accs) > 1 else report.ASSUMED_SEED_STD


def _ms_per_step(group: list[dict]) -> float:
    return statistics.fmean(report.throughput(r)["ms_per_step"] for r in group)


def compare(
    baseline: Path, new: Path, max_slowdown: float = MAX_SLOWDOWN
) -> tuple[list[list[Any]], list[str]]:
    """Table rows (one per experiment) and the list of regressions, each naming its cause."""
    if not max_slowdown >= 1:
        raise ValueError(f"max-slowdown must be >= 1, got {max_slowdown}")
    old_runs, _, _ = report.load(_folder(baseline))
    new_runs, _, _ = report.load(_folder(new))
    if not old_runs:
        raise ValueError(f"{baseline}: no readable results to compare against")
    rows, regressions = [], []
    for name in [n for n in experiments.ALL if n in old_runs]:
        old = old_runs[name]
        cur = new_runs.get(name, [])
        if not cur:
            regressions.append(f"{name}: no results in {new}")
            rows.append([name, "", "missing", "", "", "", "", "REGRESSED"])
            continue
        old_acc = statistics.fmean(r["evaluation"]["accuracy"] for r in old)
        new_acc = statistics.fmean(r["evaluation"]["accuracy"] for r in cur)
        test_images = old[0]["dataset"]["test_images"]
        s_test = math.sqrt(old_acc * (1 - old_acc) / test_images)
        s_seed = math.sqrt(_seed_std(old) ** 2 / len(old) + _seed_std(cur) ** 2 / len(cur))
        tol = 2 * math.sqrt(s_test**2 + s_seed**2)
        problems = []
        if new_acc < old_acc - tol:
            problems.append(f"accuracy fell {100 * (old_acc - new_acc):.2f} points "
                            f"(tolerance {100 * tol:.2f})")  # fmt: skip
        old_lr = {r["seed"]: r["history"]["lr"] for r in old}
        changed = [
            r["seed"]
            for r in cur
            if old_lr.get(r["seed"], r["history"]["lr"]) != r["history"]["lr"]
        ]
        if changed:
            problems.append(f"learning-rate history changed (seed {', '.join(map(str, changed))})")
        ratio = _ms_per_step(cur) / _ms_per_step(old)
        same_device = old[0]["environment"].get("devices") == cur[0]["environment"].get("devices")
        if same_device and ratio > max_slowdown:
            problems.append(f"a training step is {ratio:.2f}x slower (limit {max_slowdown:g}x)")
        regressions += [f"{name}: {p}" for p in problems]
        rows.append([
            name, f"{100 * old_acc:.2f} ({len(old)})", f"{100 * new_acc:.2f} ({len(cur)})",
            f"{100 * (new_acc - old_acc):+.2f} ± {100 * tol:.2f}",
            "equal" if not changed else "CHANGED",
            f"{ratio:.2f}x" + ("" if same_device else " (other device)"),
            "; ".join(problems) or "-", "REGRESSED" if problems else "ok",
        ])  # fmt: skip
    return rows, regressions


def _folder(path: Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"no results folder at {path}")
    return path


def render(rows: list[list[Any]]) -> str:
    from tabulate import tabulate

    headers = ["experiment", "baseline acc % (n)", "new acc % (n)", "diff ± tol",
               "lr history", "ms/step new/base", "regressions", "verdict"]  # fmt: skip
    return tabulate(rows, headers=headers, disable_numparse=True)
