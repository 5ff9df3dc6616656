"""A speed verdict from rounds: is the candidate slower than the "from" side?

The unit of replication is a round (a fresh process per side timing a run of steps), not
a step: steps of one round share the machine's state that minute, and that state is what
varies (this machine's step time jumps between levels minutes apart). The rounds alternate
in blocks, A B B A A B B A ..., and each block gives two pairs of rounds taken side by side
in time, so a drift of the machine hits both members of a pair.

Per pair, the log of the ratio of the rounds' median ms/step. Their Hodges-Lehmann
estimate (the median of the Walsh averages) is the ratio; the exact Wilcoxon signed-rank
interval around it, at ``CONFIDENCE`` or a little more (the distribution is discrete), is
its interval. Both are distribution-free: they assume only that, with no change, a pair's
log ratio is as likely to be positive as negative.

Three outcomes (``verdict.Outcome``, the one every check gives), against ``threshold``
(the slowdown that matters, ``verdict.MAX_SLOWDOWN`` by default):

- slower (differ): the interval lies above 1 (slower, at ``1 - CONFIDENCE`` two-sided) and
  the estimate is past the threshold;
- not slower (agree): the interval's upper end is below the threshold;
- inconclusive: neither - the rounds' own spread covers the threshold. A noisy machine
  gives this, never "slower".

What it cannot see: a slowdown smaller than the threshold, a slowdown that comes and goes
within a round, and anything about steps other than the timed model's (the quick ResNet
at batch 64 on the CPU).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.report.verdict import CONFIDENCE, MAX_SLOWDOWN, Outcome

MIN_PAIRS = 6  # with fewer, no interval at 95 % exists: 2 / 2**5 > 0.05


# The speed verdict's words for the outcome every check shares.
WORDS = {
    Outcome.DIFFER: "slower",
    Outcome.AGREE: "not slower",
    Outcome.INCONCLUSIVE: "inconclusive",
}


@dataclass(frozen=True)
class SpeedEstimate:
    """The rounds' ratio with its interval, and the outcome it gives against ``threshold``."""

    ratio: float  # Hodges-Lehmann estimate of candidate / from, per step
    low: float
    high: float
    coverage: float  # the interval's exact confidence (at least CONFIDENCE)
    pairs: int
    threshold: float
    outcome: Outcome

    def sentence(self) -> str:
        """One line: the ratio, its interval and method, and the outcome."""
        return (
            f"{self.ratio:.3f}x per step ({self.coverage:.1%} interval {self.low:.3f}-"
            f"{self.high:.3f}; Hodges-Lehmann over {self.pairs} paired rounds, Wilcoxon "
            f"signed-rank interval): {WORDS[self.outcome]} (threshold {self.threshold}x)"
        )


def pairs(order: Sequence[str]) -> list[tuple[int, int]]:
    """The (A, B) round indices of an A B B A ... (or A B A B ...) sequence, each round
    paired with the round of the other side next to it; ValueError where a round has none
    (the sides did not alternate, or a round is missing)."""
    found, k = [], 0
    while k < len(order):
        if k + 1 >= len(order) or order[k] == order[k + 1]:
            raise ValueError(
                f"the speed rounds did not alternate: round {k} ({order[k]}) has no round of "
                "the other side beside it"
            )
        found.append((k, k + 1) if order[k] == "A" else (k + 1, k))
        k += 2
    return found


def signed_rank_counts(n: int) -> list[int]:
    """How many of the 2**n sign patterns give each signed-rank sum 0 .. n(n+1)/2."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for rank in range(1, n + 1):
        for total in range(len(counts) - 1, rank - 1, -1):
            counts[total] += counts[total - rank]
    return counts


def _interval_index(n: int) -> tuple[int, float]:
    """k (1-based) such that the k-th smallest and k-th largest Walsh averages bound the
    interval, and its exact coverage; k = 0 where no interval reaches CONFIDENCE."""
    counts, total = signed_rank_counts(n), 2**n
    k, tail = 0, 0
    while k < len(counts) and 2 * (tail + counts[k]) / total <= 1 - CONFIDENCE:
        tail += counts[k]
        k += 1
    return k, 1 - 2 * tail / total


def judge(log_ratios: Sequence[float], threshold: float = MAX_SLOWDOWN) -> SpeedEstimate:
    """The verdict on paired log ratios (candidate over "from", one per pair)."""
    d = [float(x) for x in log_ratios]
    if len(d) < MIN_PAIRS or not all(math.isfinite(x) for x in d):
        raise ValueError(f"the speed verdict needs {MIN_PAIRS} or more finite paired rounds")
    walsh = sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))
    k, coverage = _interval_index(len(d))
    low, high = math.exp(walsh[k - 1]), math.exp(walsh[-k])
    ratio = math.exp(statistics.median(walsh))
    if low > 1 and ratio > threshold:
        outcome = Outcome.DIFFER
    elif high < threshold:
        outcome = Outcome.AGREE
    else:
        outcome = Outcome.INCONCLUSIVE
    return SpeedEstimate(ratio, low, high, coverage, len(d), threshold, outcome)


def log_ratios(old_ms: Sequence[float], new_ms: Sequence[float]) -> list[float]:
    """Per pair of rounds, log(new median ms/step / old median ms/step)."""
    if len(old_ms) != len(new_ms):
        raise ValueError("paired rounds: as many on each side")
    return [math.log(b / a) for a, b in zip(old_ms, new_ms, strict=True)]
