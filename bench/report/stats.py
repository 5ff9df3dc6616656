"""The statistics a report and a comparison share: noise, tolerance, ranking, throughput.

Both tolerances are two standard errors of a difference of accuracies,
``2 * sqrt(s_test^2 + s_seed^2)``:

- against the post, ``s_test = sqrt(p (1 - p) / n_test)`` is the test set's binomial
  noise at the post's accuracy p (0.34 points at 87 % on 10,000 images), and
  ``s_seed^2 = std^2 (1 + 1/n)`` with ``std`` our n seeds' spread (ASSUMED_SEED_STD when
  n = 1), the post's own run counting as one more seed;
- between two run sets, p is the baseline's mean accuracy and
  ``s_seed^2 = std_a^2 / n_a + std_b^2 / n_b``.
"""

from __future__ import annotations

import enum
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.core import data, experiments, identity

ASSUMED_SEED_STD = 0.003


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def accuracies(group: list[dict[str, Any]]) -> list[float]:
    return [run["evaluation"]["accuracy"] for run in group]


def seed_std(group: list[dict[str, Any]]) -> float:
    """The seeds' spread of accuracy, or ASSUMED_SEED_STD for a single seed."""
    accs = accuracies(group)
    return statistics.stdev(accs) if len(accs) > 1 else ASSUMED_SEED_STD


def _two_sigma(p: float, test_images: int, seed_variance: float) -> float:
    return 2 * math.sqrt(p * (1 - p) / test_images + seed_variance)


def tolerance(post: float, test_images: int, seed_std: float | None, n: int) -> float:
    """The accuracy difference (a fraction) still counted as reproducing the post."""
    s_seed = seed_std if seed_std is not None and n > 1 else ASSUMED_SEED_STD
    return _two_sigma(post, test_images, s_seed**2 * (1 + 1 / n))


def tolerance_between(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> float:
    """The fall in mean accuracy from ``old`` to ``new`` still counted as noise."""
    p = statistics.fmean(accuracies(old))
    variance = seed_std(old) ** 2 / len(old) + seed_std(new) ** 2 / len(new)
    return _two_sigma(p, old[0]["dataset"]["test_images"], variance)


# A fall beyond 2 standard errors is flagged (one-sided, alpha 0.023); a true fall of
# (2 + 0.8416) standard errors is then caught with probability 0.8 (0.8416: the normal's
# 80th percentile). So the smallest fall caught 4 times in 5 is 2.8416 / 2 tolerances.
DETECTED_4_IN_5 = (2 + 0.8416) / 2


def detectable_between(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> float:
    """The smallest fall in mean accuracy ``tolerance_between`` catches 4 times in 5, at
    these numbers of seeds (a single seed's spread taken as ASSUMED_SEED_STD)."""
    return DETECTED_4_IN_5 * tolerance_between(old, new)


STATISTIC = ("accuracy: a fall of the new mean beyond 2 standard errors of the difference "
             "(the test set's binomial noise at the baseline's accuracy and each set's seed "
             f"spread, {100 * ASSUMED_SEED_STD:.1f} points assumed for a single seed)")  # fmt: skip


STEADY = ("ms_per_step", "images_per_second", "seconds")


def throughput(run: dict[str, Any]) -> dict[str, float | None]:
    """Medians over the epochs that did not trace and compile (``history.compiled``: epoch 1,
    and the first after each resume, are left out), None where every epoch did; and the
    first epoch's time."""
    history = run["history"]
    steady = [i for i, compiled in enumerate(history["compiled"]) if not compiled]
    medians = {k: statistics.median(history[k][i] for i in steady) if steady else None
               for k in STEADY}  # fmt: skip
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


@dataclass(frozen=True)
class Timed:
    """How much training a group of runs timed: its epochs that did not compile, and
    their steps (each such epoch's ms/step is its training time over all its steps)."""

    epochs: int
    steps: int

    def covers(self, minimum: Timed) -> bool:
        """Whether this is at least ``minimum`` in epochs and in steps."""
        return self.epochs >= minimum.epochs and self.steps >= minimum.steps


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


class Verdict(enum.Enum):
    """A check's outcome, shared by ``compare`` and the upgrade check: "inconclusive" where
    the measurement is too thin to call either way, which never counts as a regression."""

    OK = "ok"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"


def hardware(run: dict[str, Any]) -> tuple[str, ...]:
    """The machine a run trained on, named alike by every backend: its GPUs by name, its
    CPU by model (TensorFlow names a CPU ``/physical_device:CPU:0``, JAX ``cpu``)."""
    env = run["environment"]
    return tuple(sorted(env["cpu"] if d.startswith("CPU") else d for d in env["devices"]))


def setup(run: dict[str, Any]) -> dict[str, Any]:
    """What two runs must share for their numbers to be held against each other, whatever
    their experiment and seed (``identity.SETUP``)."""
    recorded = identity.recorded(run)
    return {k: getattr(recorded, k) for k in identity.SETUP}


def setup_differences(
    a: list[dict[str, Any]], b: list[dict[str, Any]], ignore: tuple[str, ...] = ()
) -> list[str]:
    """Each set-up field (but those in ``ignore``) on which two groups of runs differ, with
    both sides' values."""

    def values(group: list[dict[str, Any]], key: str) -> set[str]:
        return {json.dumps(setup(r)[key], sort_keys=True) for r in group}

    def shown(texts: set[str]) -> str:
        return ", ".join(sorted(t if len(t) <= 40 else t[:38] + "…" for t in texts))

    keys = [k for k in identity.SETUP if k not in ignore]
    return [f"{k} {shown(values(a, k))} vs {shown(values(b, k))}"
            for k in keys if values(a, k) != values(b, k)]  # fmt: skip


# CIFAR-10 as the post trained on it: 50,000 training and 10,000 test images, 1,000 test
# images of each of its ten classes (and 5,000 training ones, which the counts imply here).
CIFAR10_COUNTS = {"train_images": 50_000, "test_images": 10_000, "steps_per_epoch": 391}
CIFAR10_TEST_PER_CLASS = 1_000


def _is_cifar10(run: dict[str, Any]) -> bool:
    """Whether the data is CIFAR-10 by what it is, not by its name: a file in CIFAR-10's
    format with other counts (a 50-image fixture, say) is not the post's data."""
    dataset, report = run["dataset"], run["evaluation"]["report"]
    classes = [row for name, row in report.items() if name in data.CIFAR10_CLASSES]
    return (
        dataset["name"] == "cifar10"
        and all(dataset[k] == v for k, v in CIFAR10_COUNTS.items())
        and len(classes) == len(data.CIFAR10_CLASSES)
        and all(row["support"] == CIFAR10_TEST_PER_CLASS for row in classes)
    )


def comparable(run: dict[str, Any]) -> bool:
    """Whether a run used the post's set-up, so its numbers can be held against the post's."""
    config, dataset = run["config"], run["dataset"]
    post_model = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in experiments.MODEL_ARGS.items()}  # fmt: skip
    return (
        _is_cifar10(run)
        and dataset["subset"] is None
        and config["epochs"] == experiments.EPOCHS
        and config["batch_size"] == experiments.BATCH_SIZE
        and config["model_args"] == post_model
    )


def groups(means: dict[str, float], tolerance: Callable[[str, str], float]) -> list[list[str]]:
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


def written(ranked: list[list[str]]) -> str:
    """``step ≈ linear ≈ poly > none > standard``."""
    return " > ".join(" ≈ ".join(group) for group in ranked)


def post_groups(final: dict[str, float], test_images: int = 10_000) -> list[list[str]]:
    """The post's own ranking by the same rule: one run each on ``test_images`` images,
    ASSUMED_SEED_STD for the seed spread of each."""
    return groups(final, lambda a, b: _two_sigma(final[a], test_images, 2 * ASSUMED_SEED_STD**2))


def same_groups(ours: list[list[str]], theirs: list[list[str]]) -> bool | None:
    """Whether our groups of the post's experiments are the post's (order within a group
    does not count); None when one of them is missing from ours."""
    names = {n for group in theirs for n in group}
    if not names <= {n for group in ours for n in group}:
        return None
    mine = [set(g) & names for g in ours if set(g) & names]
    return mine == [set(g) for g in theirs]
