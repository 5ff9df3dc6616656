"""The one answer to "did it change?", and every threshold and tolerance it is judged by.

Every check ends in a ``Verdict``: ``bench compare`` on two run sets (each experiment's
accuracy, learning-rate history and speed) or on two training-step fingerprints,
``BACKENDS.md``'s backends, the upgrade check's sides (UPGRADE.md, which the nightly
reads) and each compat row's fingerprint against the reference. A verdict is one of

- agree: nothing changed beyond its tolerance;
- differ: something did, each reason named (before and after an upgrade: a regression);
- inconclusive: nothing was found to differ, but the measurement was too thin to judge
  all of it (too few timed steps, pairs of rounds whose spread covers the threshold).

Inconclusive never counts as a change: a command exits 0 on agree and inconclusive, 1 on
differ (2, on input it cannot read or compare, is a ``ValueError`` before any verdict).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


class Outcome(enum.Enum):
    AGREE = "agree"
    DIFFER = "differ"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """An outcome and its reasons: what differs, or what could not be judged."""

    outcome: Outcome
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, differences: Sequence[str], unjudged: Sequence[str] = ()) -> Verdict:
        """Differ where anything differs, else inconclusive where anything went unjudged,
        else agree."""
        if differences:
            return cls(Outcome.DIFFER, tuple(differences))
        if unjudged:
            return cls(Outcome.INCONCLUSIVE, tuple(unjudged))
        return cls(Outcome.AGREE)

    @property
    def differ(self) -> bool:
        return self.outcome is Outcome.DIFFER

    @property
    def exit_code(self) -> int:
        """1 where something differs, else 0."""
        return 1 if self.differ else 0


# --- accuracy (compare, the report, the backends): see bench.report.stats ---------------
# A difference beyond 2 standard errors is flagged (one-sided, alpha 0.023).
STANDARD_ERRORS = 2
# The seeds' spread of accuracy taken for a group of a single seed.
ASSUMED_SEED_STD = 0.003
# A true fall of (2 + 0.8416) standard errors is caught with probability 0.8 (0.8416: the
# normal's 80th percentile). So the smallest fall caught 4 times in 5 is 2.8416 / 2
# tolerances.
DETECTED_4_IN_5 = (STANDARD_ERRORS + 0.8416) / STANDARD_ERRORS


# --- speed of two run sets (compare) -----------------------------------------------------
@dataclass(frozen=True)
class Timed:
    """How much training a group of runs timed: its epochs that did not compile, and
    their steps (each such epoch's ms/step is its training time over all its steps)."""

    epochs: int
    steps: int

    def covers(self, minimum: Timed) -> bool:
        """Whether this is at least ``minimum`` in epochs and in steps."""
        return self.epochs >= minimum.epochs and self.steps >= minimum.steps


# The largest accepted ratio of ms/step, new over baseline: compare's --max-slowdown
# default, and the upgrade check's speed threshold.
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
MIN_TIMED = Timed(epochs=5, steps=100)


# --- the upgrade check's convergence and speed rounds (bench.report.upgrade, rounds) ------
ALPHA = 0.05  # Welch's t-test on the final accuracies, two-sided
POWER = 0.8  # of the smallest difference the seeds can detect at ALPHA
CONFIDENCE = 0.95  # the signed-rank interval of the rounds' ratio (at least this)


# --- two training-step fingerprints (bench.report.fingerprints) ---------------------------
# The updates at which a tolerance may step up: each step holds until the next knot.
KNOTS = (0, 1, 2, 3, 5, 10, 20, 50)
# tolerance = FINGERPRINT_MARGIN x the largest difference measured between releases
FINGERPRINT_MARGIN = 10.0


@dataclass(frozen=True)
class Tolerance:
    """A relative tolerance per update: ``values[i]`` from update ``KNOTS[i]`` on."""

    values: tuple[float, ...]

    def at(self, updates: np.ndarray) -> np.ndarray:
        index = np.searchsorted(KNOTS, np.asarray(updates), side="right") - 1
        return np.asarray(self.values, float)[index]


# Derived from the six matrix rows' fingerprints (docs/fingerprint.md,
# ``fingerprints.derive``), from the pairs that compute the same quantity: moving_variance
# from pairs on the same side of Keras 2/3 only (Keras 2's fused BatchNorm keeps the
# unbiased batch variance, Keras 3 the biased one: a real difference, and it stays
# flagged), loss without Keras 3.0 (its train_on_batch, which the fingerprint then used,
# returned the running mean of the loss; the fingerprint now trains with fit, as the
# post does). After ~3 updates the weights' float noise has grown chaotic (lr 0.1): from there
# only the rates and the loss are checked closely. "final" (one number, the summary after
# all updates) is informative only.
TOLERANCE = {
    "lr": Tolerance((1e-09, 1e-09, 1e-09, 1e-09, 1e-09, 1.2e-09, 3e-09, 5e-09)),
    "loss": Tolerance((1.7e-06, 1.7e-06, 2e-05, 0.002, 0.036, 0.14, 0.81, 1.0)),
    "moved": Tolerance((0.0089, 0.094, 0.29, 1.0, 1.0, 1.0, 1.0, 1.0)),
    "moving_variance": Tolerance((1.5e-05, 2e-05, 6.2e-05, 0.0031, 0.073, 1.0, 1.0, 1.0)),
    "final": Tolerance((2.0,) * len(KNOTS)),
}
