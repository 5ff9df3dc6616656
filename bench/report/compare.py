"""``python -m bench compare BASELINE NEW``: did anything regress between two results sets,
or, for two sets run on different Keras backends, do the backends agree?

Two sets are compared only when their set-ups agree (dataset and its checksum, subset,
epochs, batch size, model: ``bench.core.identity.SETUP``); otherwise the differences are
named (``identity.setup_differences``) and the exit code is 2. The backend is the one
set-up field that may differ: then the sets are two backends side by side, not a before
and after. For each experiment in BASELINE (e.g. the runs before a TensorFlow upgrade)
against NEW:

- accuracy: NEW's mean may not fall below BASELINE's by more than the tolerance of
  ``bench.report.stats.tolerance_between`` (binomial test noise at BASELINE's accuracy, and the
  seeds' spread of both sets); across backends, neither may differ from the other by more;
- learning rate: the per-epoch rates of runs with the same seed must be equal, exactly
  (they are the schedule's float32 values, so any change is a change of behaviour);
- speed: NEW's fastest ms/step over the epochs that did not compile (not epoch 1, nor
  the first after a resume; ``stats.fastest_step``, the best of N) may be at most
  ``max_slowdown`` (``verdict.MAX_SLOWDOWN``) times BASELINE's; compared only
  when both ran on the same devices and backend (across backends the ratio is shown, not
  judged), and "n/a" where every epoch of a set compiled. It is judged only where each
  side timed at least ``verdict.MIN_TIMED`` (its seeds together); below that the row says "speed
  not judged (N timed steps)", a "not compared" line says why, and the exit code ignores
  speed.

The outcome is a ``verdict.Verdict``: its exit code 0 when nothing regressed (backends:
when they agree; inconclusive where speed went unjudged), 1 when something did (backends:
when they differ); 2 on unreadable or non-comparable input.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.core import identity
from bench.report import stats, text
from bench.report.verdict import MAX_SLOWDOWN, MIN_TIMED, Outcome, Timed, Verdict
from bench.run import runset


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
    # The experiments whose speed went unjudged (each also a "not compared" line).
    unjudged: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """Differ on any problem, else inconclusive where speed went unjudged, else agree."""
        return Verdict.of(self.problems, self.unjudged)


def compare(baseline: Path, new: Path, max_slowdown: float = MAX_SLOWDOWN) -> Comparison:
    """One table row per experiment of ``baseline``, and what regressed (or, across
    backends, disagrees), each naming its cause."""
    if not max_slowdown >= 1:
        raise ValueError(f"max-slowdown must be >= 1, got {max_slowdown}")
    new_set, old_set = runset.load_one_setup(new), runset.load_one_setup(baseline)
    old_runs, new_runs = old_set.runs, new_set.runs
    if not old_runs:
        raise ValueError(f"{baseline}: no readable results to compare against")
    differ = _setup_differences(old_set, new_set) if new_runs else []
    if differ:
        raise ValueError(
            f"{baseline} and {new} are not comparable, their set-ups differ: {'; '.join(differ)}"
        )
    backends = _backends(old_runs), _backends(new_runs)
    across = backends if backends[0] != backends[1] else None
    failed = "DIFFER" if across else "REGRESSED"
    headers, rows, problems, detectable = _headers(across), [], [], {}
    speed_notes: list[str] = []
    unjudged: list[str] = []
    for name, old in old_runs.items():
        cur = new_runs.get(name, [])
        if not cur:
            problems.append(f"{name}: no results in {new}")
            rows.append([name, "", "missing", *[""] * (len(headers) - 4), failed])
            continue
        row, found, sides = _experiment(old, cur, max_slowdown, across is not None)
        detectable[name] = (len(old), len(cur), stats.detectable_between(old, cur))
        problems += [f"{name}: {p}" for p in found]
        ok = "agree" if across else "ok"
        rows.append([name, *row, "; ".join(found) or "-", failed if found else ok])
        if sides is not None:
            unjudged.append(name)
            speed_notes.append(
                f"{name}: speed not judged, {_timed(sides[0])} in {baseline} "
                f"and {_timed(sides[1])} in {new}, where a verdict needs "
                f"at least {_timed(MIN_TIMED)} on each side"
            )
    # A run of the new set that failed, diverged or contradicts itself counts against it.
    problems += [f"{stem}: {why}" for stem, why in new_set.problems]
    unused = [f"{baseline}: {stem} left out ({why})" for stem, why in old_set.problems]
    unused += [f"{name}: not in {baseline}" for name in new_runs if name not in old_runs]
    return Comparison(
        headers,
        rows,
        problems,
        across,
        detectable,
        not_compared=unused + speed_notes,
        unjudged=unjudged,
    )


def _setup_differences(old: runset.RunSet, new: runset.RunSet) -> list[str]:
    """Each set-up field but the backend on which two run sets differ, with both values
    (a run set holds one set-up: ``runset.load_one_setup``)."""
    old_setup, new_setup = (
        identity.setup_of(identity.from_results(s.all_runs()[0])) for s in (old, new)
    )
    return identity.setup_differences(
        {**old_setup, "backend": None}, {**new_setup, "backend": None}
    )


def _backends(runs: dict[str, list[dict]]) -> str:
    every = [run for group in runs.values() for run in group]
    return ", ".join(sorted({identity.from_results(run).backend for run in every}))


def _headers(across: tuple[str, str] | None) -> list[str]:
    old, new = across or ("baseline", "new")
    speed = f"ms/step {new}/{old}" if across else "ms/step new/base"
    judged = "differences" if across else "regressions"
    losses = [f"{old} val_loss", f"{new} val_loss"] if across else []
    return [
        "experiment",
        f"{old} acc % (n)",
        f"{new} acc % (n)",
        "diff ± tol",
        *losses,
        "lr history",
        speed,
        judged,
        "verdict",
    ]


def _experiment(
    old: list[dict], cur: list[dict], max_slowdown: float, across: bool
) -> tuple[list[str], list, tuple[Timed, Timed] | None]:
    """One experiment's cells (accuracies, lr, speed), what regressed (or differs) in it,
    and both sides' timed training where it was too little to judge speed on."""
    old_acc, new_acc = (statistics.fmean(stats.accuracies(g)) for g in (old, cur))
    tol = stats.tolerance_between(old, cur)
    problems = []
    if new_acc < old_acc - tol or (across and new_acc > old_acc + tol):
        moved = "rose" if new_acc > old_acc else "fell"
        problems.append(
            f"accuracy {moved} {100 * abs(old_acc - new_acc):.2f} points "
            f"(tolerance {100 * tol:.2f})"
        )
    changed = _lr_changed(old, cur)
    if changed:
        problems.append(f"learning-rate history changed (seed {', '.join(map(str, changed))})")
    speed, slower, unjudged = _speed(old, cur, max_slowdown, across)
    problems += [slower] if slower else []
    cells = [
        f"{100 * old_acc:.2f} ({len(old)})",
        f"{100 * new_acc:.2f} ({len(cur)})",
        f"{100 * (new_acc - old_acc):+.2f} ± {100 * tol:.2f}",
        *([f"{_val_loss(old):.4f}", f"{_val_loss(cur):.4f}"] if across else []),
        "equal" if not changed else "CHANGED",
        speed,
    ]
    return cells, problems, unjudged


def _judge_speed(ratio: float, max_slowdown: float, sides: tuple[Timed, Timed]) -> Outcome:
    """NEW's ms/step over BASELINE's against ``max_slowdown``, inconclusive unless both
    sides timed at least ``MIN_TIMED``."""
    if not all(side.covers(MIN_TIMED) for side in sides):
        return Outcome.INCONCLUSIVE
    return Outcome.DIFFER if ratio > max_slowdown else Outcome.AGREE


def _speed(
    old: list[dict], cur: list[dict], max_slowdown: float, across: bool
) -> tuple[str, str | None, tuple[Timed, Timed] | None]:
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
    outcome = _judge_speed(ratio, max_slowdown, sides)
    if outcome is Outcome.INCONCLUSIVE:
        return f"speed not judged ({_fewest(sides)})", None, sides
    slower = f"a training step is {ratio:.2f}x slower (limit {max_slowdown:g}x)"
    return f"{ratio:.2f}x", slower if outcome is Outcome.DIFFER else None, None


def _fewest(sides: tuple[Timed, Timed]) -> str:
    """What fell short, at its fewest: "5 timed steps", or the epochs where the steps did not."""
    steps = min(side.steps for side in sides)
    if steps < MIN_TIMED.steps:
        return _count(steps, "timed step")
    return _count(min(side.epochs for side in sides), "timed epoch")


def _timed(amount: Timed) -> str:
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
    rows = [[text.one_line(cell) for cell in row] for row in comparison.rows]
    return tabulate(rows, headers=comparison.headers, disable_numparse=True)
