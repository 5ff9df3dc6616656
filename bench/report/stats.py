"""The statistics a report and a comparison share: noise, tolerance, ranking, throughput.

Both tolerances are two standard errors of a difference of accuracies,
``2 * sqrt(s_test^2 + s_seed^2)``:

- against the post, ``s_test = sqrt(p (1 - p) / n_test)`` is the test set's binomial
  noise at the post's accuracy p (0.34 points at 87 % on 10,000 images), and
  ``s_seed^2 = std^2 (1 + 1/n)`` with ``std`` our n seeds' spread (``ASSUMED_SEED_STD``
  when n = 1), the post's own run counting as one more seed;
- between two run sets, p is the baseline's mean accuracy and
  ``s_seed^2 = std_a^2 / n_a + std_b^2 / n_b``.

The factor 2 and the assumed spread are ``bench.report.verdict``'s, with every other
threshold a check judges by.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.report.verdict import ASSUMED_SEED_STD, DETECTED_4_IN_5, STANDARD_ERRORS, Timed


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def accuracies(group: list[dict[str, Any]]) -> list[float]:
    return [run["evaluation"]["accuracy"] for run in group]


def seed_std(group: list[dict[str, Any]]) -> float:
    """The seeds' spread of accuracy, or ASSUMED_SEED_STD for a single seed."""
    accs = accuracies(group)
    return statistics.stdev(accs) if len(accs) > 1 else ASSUMED_SEED_STD


def _two_sigma(p: float, test_images: int, seed_variance: float) -> float:
    return STANDARD_ERRORS * math.sqrt(p * (1 - p) / test_images + seed_variance)


def tolerance(post: float, test_images: int, seed_std: float | None, n: int) -> float:
    """The accuracy difference (a fraction) still counted as reproducing the post."""
    s_seed = seed_std if seed_std is not None and n > 1 else ASSUMED_SEED_STD
    return _two_sigma(post, test_images, s_seed**2 * (1 + 1 / n))


def tolerance_between(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> float:
    """The fall in mean accuracy from ``old`` to ``new`` still counted as noise."""
    p = statistics.fmean(accuracies(old))
    variance = seed_std(old) ** 2 / len(old) + seed_std(new) ** 2 / len(new)
    return _two_sigma(p, old[0]["dataset"]["test_images"], variance)


def detectable_between(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> float:
    """The smallest fall in mean accuracy ``tolerance_between`` catches 4 times in 5, at
    these numbers of seeds (a single seed's spread taken as ASSUMED_SEED_STD)."""
    return DETECTED_4_IN_5 * tolerance_between(old, new)


STATISTIC = (
    f"accuracy: a fall of the new mean beyond {STANDARD_ERRORS} standard errors of the "
    "difference (the test set's binomial noise at the baseline's accuracy and each set's "
    f"seed spread, {100 * ASSUMED_SEED_STD:.1f} points assumed for a single seed)"
)


STEADY = ("ms_per_step", "images_per_second", "seconds")


def throughput(run: dict[str, Any]) -> dict[str, float | None]:
    """Medians over the epochs that did not trace and compile (``history.compiled``: epoch 1,
    and the first after each resume, are left out), None where every epoch did; and the
    first epoch's time."""
    history = run["history"]
    steady = [i for i, compiled in enumerate(history["compiled"]) if not compiled]
    medians = {
        k: statistics.median(history[k][i] for i in steady) if steady else None for k in STEADY
    }
    return {**medians, "first_epoch": history["seconds"][0]}


def mean_throughput(group: list[dict[str, Any]]) -> dict[str, float | None]:
    """``throughput``'s measures, each the mean over the runs (a steady median over the
    runs that have one; None where none has)."""
    each = [throughput(run) for run in group]
    means = {}
    for measure in each[0]:
        values = [t[measure] for t in each if t[measure] is not None]
        means[measure] = statistics.fmean(values) if values else None
    return means


def fastest_step(group: list[dict[str, Any]]) -> float | None:
    """The fastest ms/step of any epoch of ``group``'s runs that did not compile (None where
    every epoch did). On a shared machine noise only ever slows a step: the machine jumps
    between speed levels minutes apart, and an epoch at the slow level says nothing about
    the code. The fastest epoch is the code at the machine's fast level; a change that
    slows every step slows it too."""
    steady = [
        ms
        for run in group
        for ms, compiled in zip(
            run["history"]["ms_per_step"], run["history"]["compiled"], strict=True
        )
        if not compiled
    ]
    return min(steady) if steady else None


def timed(group: list[dict[str, Any]]) -> Timed:
    """The timed epochs and steps of ``group``'s runs, together (what ``mean_throughput``'s
    medians are taken over)."""
    counts = [
        (sum(not c for c in run["history"]["compiled"]), run["dataset"]["steps_per_epoch"])
        for run in group
    ]
    return Timed(sum(n for n, _ in counts), sum(n * steps for n, steps in counts))


def hardware(run: dict[str, Any]) -> tuple[str, ...]:
    """The machine a run trained on, named alike by every backend: its GPUs by name, its
    CPU by model (TensorFlow names a CPU ``/physical_device:CPU:0``, JAX ``cpu``)."""
    env = run["environment"]
    return tuple(sorted(env["cpu"] if d.startswith("CPU") else d for d in env["devices"]))


def rank_in_groups(
    means: dict[str, float], tolerance: Callable[[str, str], float]
) -> list[list[str]]:
    """The experiments ranked by groups, best first: each group is the best experiment left
    and every one whose mean is within ``tolerance(best, other)`` of it, by mean."""
    left = sorted(means, key=lambda name: means[name], reverse=True)
    ranked = []
    while left:
        leader = left[0]
        group = [n for n in left if means[leader] - means[n] <= tolerance(leader, n)]
        ranked.append(group)
        left = [n for n in left if n not in group]
    return ranked


def format_ranking(ranked: list[list[str]]) -> str:
    """``step ≈ linear ≈ poly > none > standard``."""
    return " > ".join(" ≈ ".join(group) for group in ranked)


def post_groups(final: dict[str, float], test_images: int = 10_000) -> list[list[str]]:
    """The post's own ranking by the same rule: one run each on ``test_images`` images,
    ASSUMED_SEED_STD for the seed spread of each."""
    return rank_in_groups(
        final, lambda a, b: _two_sigma(final[a], test_images, 2 * ASSUMED_SEED_STD**2)
    )


def same_groups(ours: list[list[str]], theirs: list[list[str]]) -> bool | None:
    """Whether our groups of the post's experiments are the post's (order within a group
    does not count); None when one of them is missing from ours."""
    names = {n for group in theirs for n in group}
    if not names <= {n for group in ours for n in group}:
        return None
    mine = [set(g) & names for g in ours if set(g) & names]
    return mine == [set(g) for g in theirs]
