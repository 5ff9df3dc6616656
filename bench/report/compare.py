"""``python -m bench compare BASELINE NEW``: did anything regress between two results sets,
or, for two sets run on different Keras backends, do the backends agree?

Two sets are compared only when their set-ups agree (dataset and its checksum, subset,
epochs, batch size, model: ``bench.core.identity.SETUP``); otherwise the differences are named and
the exit code is 2. The backend is the one set-up field that may differ: then the sets
are two backends side by side, not a before and after. For each experiment in BASELINE
(e.g. the runs before a TensorFlow upgrade) against NEW:

- accuracy: NEW's mean may not fall below BASELINE's by more than the tolerance of
  ``bench.report.stats.tolerance_between`` (binomial test noise at BASELINE's accuracy, and the
  seeds' spread of both sets); across backends, neither may differ from the other by more;
- learning rate: the per-epoch rates of runs with the same seed must be equal, exactly
  (they are the schedule's float32 values, so any change is a change of behaviour);
- speed: NEW's fastest ms/step over the epochs that did not compile (not epoch 1, nor
  the first after a resume; ``stats.fastest_step``, the best of N) may be at most
  ``max_slowdown`` times BASELINE's; compared only
  when both ran on the same devices and backend (across backends the ratio is shown, not
  judged), and "n/a" where every epoch of a set compiled. It is judged only where each
  side timed at least ``MIN_TIMED`` (its seeds together); below that the row says "speed
  not judged (N timed steps)", a "not compared" line says why, and the exit code ignores
  speed.

Exit code 0 when nothing regressed (backends: when they agree), 1 when something did
(backends: when they differ), 2 on unreadable or non-comparable input.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.report import stats, text
from bench.run import runset

MAX_SLOWDOWN = 1.25
# The least timed training (epochs that did not compile, and their steps) each side of an
# experiment needs, its seeds together, before its speed is judged. Epochs: the fastest of
# them is compared, and on this shared 2-core machine 14 of the quick example's 45 timed
# epochs ran 1.4-2.3x slower than their run's median: with 5, at least one is at the
# machine's fast level all but rarely (resampling those epochs, a same-code pair passes
# 1.25x 0.6 % of the time at 5 a side; with the median of 5 it was 14 %). Steps: an epoch's
# ms/step carries its fixed costs (the iterator, callbacks, the first batch's wait) over
# its steps: 72-117 ms/step at 5 steps against 59 at 23, so about half of it at 5 and a few
# percent at 100. The quick example (9 x 23 per run) is judged; a 2-epoch run of 5-step
# epochs (1 x 5), whose same-code ratios spanned 0.72x-2.24x, is not.
MIN_TIMED = stats.Timed(epochs=5, steps=100)


@dataclass(frozen=True)
class Comparison:
    headers: list[str]
    rows: list[list[Any]]
    problems: list[str]  # regressions, or across backends the disagreements
    backends: tuple[str, str] | None  # (baseline's, new's) when they differ
    # The statistic, and per experiment the seeds on each side and the smallest fall it
    # catches 4 times in 5 (a fraction), so a reader knows what "no regression" means.
    detectable: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    statistic: str = stats.STATISTIC
    # What was not held against anything, and why: the baseline's unusable runs, and the
    # new set's experiments the baseline lacks. Never silent, though not a regression.
    not_compared: list[str] = field(default_factory=list)


def compare(baseline: Path, new: Path, max_slowdown: float = MAX_SLOWDOWN) -> Comparison:
    """One table row per experiment of ``baseline``, and what regressed (or, across
    backends, disagrees), each naming its cause."""
    if not max_slowdown >= 1:
        raise ValueError(f"max-slowdown must be >= 1, got {max_slowdown}")
    new_set, old_set = runset.load(new), runset.load(baseline)
    old_runs, new_runs = old_set.runs, new_set.runs
    if not old_runs:
        raise ValueError(f"{baseline}: no readable results to compare against")
    differ = (stats.setup_differences(_every(old_runs), _every(new_runs), ignore=("backend",))
              if new_runs else [])  # fmt: skip
    if differ:
        raise ValueError(f"{baseline} and {new} are not comparable, their set-ups differ: "
                         f"{'; '.join(differ)}")  # fmt: skip
    backends = _backends(old_runs), _backends(new_runs)
    across = backends if backends[0] != backends[1] else None
    failed = "DIFFER" if across else "REGRESSED"
    headers, rows, problems, detectable = _headers(across), [], [], {}
    speed_notes: list[str] = []
    for name, old in old_runs.items():
        cur = new_runs.get(name, [])
        if not cur:
            problems.append(f"{name}: no results in {new}")
            rows.append([name, "", "missing", *[""] * (len(headers) - 4), failed])
            continue
        row, found, unjudged = _experiment(old, cur, max_slowdown, across is not None)
        detectable[name] = (len(old), len(cur), stats.detectable_between(old, cur))
        problems += [f"{name}: {p}" for p in found]
        ok = "agree" if across else "ok"
        rows.append([name, *row, "; ".join(found) or "-", failed if found else ok])
        if unjudged is not None:
            speed_notes.append(
                f"{name}: speed not judged, {_timed(unjudged[0])} in {baseline} "
                f"and {_timed(unjudged[1])} in {new}, where a verdict needs "
                f"at least {_timed(MIN_TIMED)} on each side"
            )
    # A run of the new set that failed, diverged or contradicts itself counts against it.
    problems += [f"{stem}: {why}" for stem, why in new_set.problems]
    unused = [f"{baseline}: {stem} left out ({why})" for stem, why in old_set.problems]
    unused += [f"{name}: not in {baseline}" for name in new_runs if name not in old_runs]
    return Comparison(
        headers, rows, problems, across, detectable, not_compared=unused + speed_notes
    )


def _every(runs: dict[str, list[dict]]) -> list[dict]:
    return [run for group in runs.values() for run in group]


def _backends(runs: dict[str, list[dict]]) -> str:
    return ", ".join(sorted({stats.setup(r)["backend"] for r in _every(runs)}))


def _headers(across: tuple[str, str] | None) -> list[str]:
    old, new = across or ("baseline", "new")
    speed = f"ms/step {new}/{old}" if across else "ms/step new/base"
    judged = "differences" if across else "regressions"
    losses = [f"{old} val_loss", f"{new} val_loss"] if across else []
    return ["experiment", f"{old} acc % (n)", f"{new} acc % (n)", "diff ± tol", *losses,
            "lr history", speed, judged, "verdict"]  # fmt: skip


def _experiment(
    old: list[dict], cur: list[dict], max_slowdown: float, across: bool
) -> tuple[list[str], list, tuple[stats.Timed, stats.Timed] | None]:
    """One experiment's cells (accuracies, lr, speed), what regressed (or differs) in it,
    and both sides' timed training where it was too little to judge speed on."""
    old_acc, new_acc = (statistics.fmean(stats.accuracies(g)) for g in (old, cur))
    tol = stats.tolerance_between(old, cur)
    problems = []
    if new_acc < old_acc - tol or (across and new_acc > old_acc + tol):
        moved = "rose" if new_acc > old_acc else "fell"
        problems.append(f"accuracy {moved} {100 * abs(old_acc - new_acc):.2f} points "
                        f"(tolerance {100 * tol:.2f})")  # fmt: skip
    changed = _lr_changed(old, cur)
    if changed:
        problems.append(f"learning-rate history changed (seed {', '.join(map(str, changed))})")
    speed, slower, unjudged = _speed(old, cur, max_slowdown, across)
    problems += [slower] if slower else []
    cells = [
        f"{100 * old_acc:.2f} ({len(old)})", f"{100 * new_acc:.2f} ({len(cur)})",
        f"{100 * (new_acc - old_acc):+.2f} ± {100 * tol:.2f}",
        *([f"{_val_loss(old):.4f}", f"{_val_loss(cur):.4f}"] if across else []),
        "equal" if not changed else "CHANGED",
        speed,
    ]  # fmt: skip
    return cells, problems, unjudged


def _judge_speed(
    ratio: float, max_slowdown: float, sides: tuple[stats.Timed, stats.Timed]
) -> stats.Verdict:
    """NEW's ms/step over BASELINE's against ``max_slowdown``, inconclusive unless both
    sides timed at least ``MIN_TIMED``."""
    if not all(side.covers(MIN_TIMED) for side in sides):
        return stats.Verdict.INCONCLUSIVE
    return stats.Verdict.REGRESSED if ratio > max_slowdown else stats.Verdict.OK


def _speed(
    old: list[dict], cur: list[dict], max_slowdown: float, across: bool
) -> tuple[str, str | None, tuple[stats.Timed, stats.Timed] | None]:
    """The speed cell, the slowdown found (or None), and both sides' timed training where
    it was too little to judge on (or None)."""
    old_ms, new_ms = (stats.fastest_step(g) for g in (old, cur))
    if old_ms is None or new_ms is None:  # no timed epoch: not judged, and said so
        sides = stats.timed(old), stats.timed(cur)
        return f"n/a (every epoch compiled in {_uncompiled(old_ms, new_ms)})", None, sides
    ratio = new_ms / old_ms
    if stats.hardware(old[0]) != stats.hardware(cur[0]):
        return f"{ratio:.2f}x (other device)", None, None
    if across:  # shown, not judged
        return f"{ratio:.2f}x", None, None
    sides = stats.timed(old), stats.timed(cur)
    verdict = _judge_speed(ratio, max_slowdown, sides)
    if verdict is stats.Verdict.INCONCLUSIVE:
        return f"speed not judged ({_fewest(sides)})", None, sides
    slower = f"a training step is {ratio:.2f}x slower (limit {max_slowdown:g}x)"
    return f"{ratio:.2f}x", slower if verdict is stats.Verdict.REGRESSED else None, None


def _fewest(sides: tuple[stats.Timed, stats.Timed]) -> str:
    """What fell short, at its fewest: "5 timed steps", or the epochs where the steps did not."""
    steps = min(side.steps for side in sides)
    if steps < MIN_TIMED.steps:
        return _count(steps, "timed step")
    return _count(min(side.epochs for side in sides), "timed epoch")


def _timed(amount: stats.Timed) -> str:
    return f"{_count(amount.steps, 'timed step')} over {_count(amount.epochs, 'epoch')}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _uncompiled(old_ms: float | None, new_ms: float | None) -> str:
    """Which side has no epoch that ran without compiling."""
    return "both" if old_ms is None and new_ms is None else "base" if old_ms is None else "new"


def _val_loss(group: list[dict]) -> float:
    """The mean of the runs' last val_loss."""
    return statistics.fmean(run["history"]["val_loss"][-1] for run in group)


def _lr_changed(old: list[dict], cur: list[dict]) -> list[int]:
    """Seeds in both sets whose per-epoch rates differ (the schedule's float32 values, so
    any change is a change of behaviour)."""
    old_lr = {r["seed"]: r["history"]["lr"] for r in old}
    return [
        r["seed"] for r in cur if old_lr.get(r["seed"], r["history"]["lr"]) != r["history"]["lr"]
    ]


def render(comparison: Comparison) -> str:
    """The table for a terminal: every cell one line (a cell may hold a file's text)."""
    rows = [[text.line(cell) for cell in row] for row in comparison.rows]
    return tabulate(rows, headers=comparison.headers, disable_numparse=True)
