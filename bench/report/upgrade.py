"""UPGRADE.md: what changes for the post when TensorFlow is upgraded, from the
measurements ``nox -s upgrade`` took in the "from" and the candidate environment.

Each side's folder holds ``drift.json`` (``bench drift``'s row), ``fingerprint.json``
(``bench fingerprint``) and its rounds, ``speed-N.json`` (per-step times, then one
convergence seed's final accuracy); ``write`` reads both and renders one verdict line, then
one section per check:

- drift: each of the post's calls whose outcome changed (works / warns / ignored / raises);
- numerics: the two fingerprints compared (``bench.report.fingerprints``);
- convergence: Welch's t-test on the seeds' final accuracies at ``ALPHA`` (two-sided), and
  the smallest difference the seeds can detect at that alpha with 80 % power;
- speed: rounds alternated A B B A between the sides, each a fresh process timing steps;
  per pair of rounds side by side, the ratio of their median ms/step; the verdict from those
  pairs (``bench.report.rounds``: Hodges-Lehmann with its signed-rank interval), never from
  steps pooled across rounds.

The outcome is a ``verdict.Verdict`` (``Upgrade.verdict``). Regressed (differ, exit 1):
the fingerprints differ; the candidate's accuracy is lower with
p < ``ALPHA``; the rounds say the candidate is slower than ``MAX_SLOWDOWN`` (inconclusive
where their spread covers it, which is said and is no regression); or a call that worked
(or warned) now raises or is ignored.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import files
from bench.report import fingerprints, rounds
from bench.report.verdict import ALPHA, MAX_SLOWDOWN, POWER, Outcome, Verdict

BROKEN = ("raises", "ignored")


def read_side(folder: Path) -> dict[str, Any]:
    """One environment's measurements; ValueError naming what is missing or broken. Its
    rounds (``speed-*.json``, alternated with the other side's) give the speed and the
    convergence seeds."""
    folder = Path(folder)
    side: dict[str, Any] = {
        "drift": files.read_json(folder / "drift.json"),  # regular, bounded: or one line
        "fingerprint": fingerprints.read(folder / "fingerprint.json"),
    }
    side["speed"], side["convergence"] = _rounds(folder)
    return side


def _rounds(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The side's rounds as (position in the sequence both sides ran, median ms/step), and
    its convergence seeds' accuracies: ``speed-N.json``, N the round's place in that
    sequence."""
    found = []
    for path in sorted(folder.glob("speed-*.json")):
        place = path.stem.removeprefix("speed-")
        if not (place.isascii() and place.isdigit() and str(int(place)) == place):
            raise ValueError(f"{path}: a speed round's file is named speed-N.json (N: 0, 1, ...)")
        found.append((int(place), path, *_round(path)))
    if not found:
        raise ValueError(f"{folder}: no speed-*.json rounds")
    found.sort(key=lambda round_: round_[0])
    for _, path, _, setup, _ in found:
        if setup != found[0][3]:
            raise ValueError(f"{path}: its speed set-up differs from {found[0][1].name}'s")
    speed = {
        "setup": {**found[0][3], "rounds": len(found)},
        "rounds": [(place, median) for place, _, median, _, _ in found],
    }
    return speed, _seeds([(path, seed) for _, path, _, _, seed in found], folder)


def _seeds(seeds: list[tuple[Path, dict[str, Any]]], folder: Path) -> dict[str, Any]:
    """The rounds' convergence seeds: one set-up, each seed once."""
    if not seeds:
        raise ValueError(f"{folder}: no round trained a convergence seed")
    setup = seeds[0][1]["setup"]
    numbers = [seed["seed"] for _, seed in seeds]
    for path, seed in seeds:
        if seed["setup"] != setup:
            raise ValueError(f"{path}: its convergence set-up differs from {seeds[0][0].name}'s")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{folder}: a convergence seed was trained twice: {sorted(numbers)}")
    return {"setup": setup, "seeds": numbers, "accuracy": [s["accuracy"] for _, s in seeds]}


def _round(path: Path) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """One round's median ms/step, speed set-up and convergence seed; ValueError naming
    the file."""
    measured = files.read_json(path)
    if not isinstance(measured, dict):
        raise ValueError(f"{path}: a round is a JSON object")
    ms, setup = measured.get("ms_per_step"), measured.get("setup")
    if not (isinstance(ms, list) and ms and all(map(_milliseconds, ms))):
        low, high = MS_RANGE
        raise ValueError(f"{path}: ms_per_step must be a list of times from {low:g} to {high:g} ms")
    if not isinstance(setup, dict):
        raise ValueError(f"{path}: setup must be an object")
    return statistics.median(ms), setup, _convergence_seed(path, measured.get("convergence"))


def _convergence_seed(path: Path, seed: Any) -> dict[str, Any]:
    ok = (
        isinstance(seed, dict)
        and isinstance(seed.get("setup"), dict)
        and _whole(seed.get("seed"))
        and _share(seed.get("accuracy"))
    )
    if not ok:
        raise ValueError(
            f"{path}: convergence must hold the set-up, the seed (a whole number >= 0) "
            "and the final accuracy (from 0 to 1)"
        )
    return seed


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


MS_RANGE = (1e-3, 1e7)  # a step's time: from a microsecond to about three hours


def _milliseconds(value: Any) -> bool:
    low, high = MS_RANGE
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value < high


def drift_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, str]]:
    """Each probe (the post's use of Keras) whose outcome differs, in the probe order."""
    before = {p["use"]: p for p in old["probes"]}
    changed = []
    for probe in new["probes"]:
        was = before.get(probe["use"])
        if was is None or was["outcome"] != probe["outcome"]:
            changed.append(
                {
                    "use": probe["use"],
                    "old": f"{was['outcome']}: {was['effect']}" if was else "(not probed)",
                    "new": f"{probe['outcome']}: {probe['effect']}",
                    "broke": bool(was)
                    and was["outcome"] not in BROKEN
                    and probe["outcome"] in BROKEN,
                }
            )
    return changed


@dataclass(frozen=True)
class Convergence:
    old: list[float]
    new: list[float]
    difference: float  # mean(new) - mean(old)
    p_value: float
    detectable: float  # the smallest true difference found with POWER at ALPHA

    @property
    def regressed(self) -> bool:
        return self.difference < 0 and self.p_value < ALPHA


SAME = 1e-9  # accuracies closer than this are the same count of test images


def welch(old: list[float], new: list[float]) -> Convergence:
    """Welch's t-test (two-sided) and the minimum detectable difference for these seeds:
    ``(t[1 - alpha/2] + t[power]) * sqrt(s1^2/n1 + s2^2/n2)`` at Welch's degrees of freedom."""
    a, b = np.asarray(old, float), np.asarray(new, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the convergence test needs at least two seeds on each side")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    # Every seed equal on both sides (to float noise: an accuracy is a count over the test
    # set): nothing to test, any change is seen.
    if se < SAME:
        same = float(abs(a.mean() - b.mean()) < SAME)
        return Convergence(a.tolist(), b.tolist(), float(b.mean() - a.mean()), same, 0.0)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    from scipy import stats as scipy_stats  # lazy: scipy.stats takes 1.4 s to load

    p = float(scipy_stats.ttest_ind(b, a, equal_var=False).pvalue)
    t = scipy_stats.t
    detectable = (t.ppf(1 - ALPHA / 2, df) + t.ppf(POWER, df)) * se
    return Convergence(a.tolist(), b.tolist(), float(b.mean() - a.mean()), p, float(detectable))


@dataclass(frozen=True)
class Speed:
    pairs: list[tuple[float, float]]  # ("from", candidate) median ms/step, side by side
    verdict: rounds.SpeedEstimate | None  # None: too few pairs to judge

    @property
    def regressed(self) -> bool:
        return self.verdict is not None and self.verdict.outcome is Outcome.DIFFER

    @property
    def judged(self) -> bool:
        """Whether the rounds said slower or not slower (not: too few, or inconclusive)."""
        return self.verdict is not None and self.verdict.outcome is not Outcome.INCONCLUSIVE


def speed_verdict(old: list[tuple[int, float]], new: list[tuple[int, float]]) -> Speed:
    """The rounds of both sides, put back in the order they ran, paired side by side
    (``rounds.pairs``) and judged against ``MAX_SLOWDOWN``."""
    sequence = sorted([(place, 0, ms) for place, ms in old] + [(place, 1, ms) for place, ms in new])
    both = sorted({place for place, _ in old} & {place for place, _ in new})
    if both:
        raise ValueError(f"round {both[0]} is on both sides (speed-{both[0]}.json): one ran it")
    order = "".join("AB"[side] for _, side, _ in sequence)
    pairs = [(sequence[a][2], sequence[b][2]) for a, b in rounds.pairs(order)]
    if len(pairs) < rounds.MIN_PAIRS:
        return Speed(pairs, None)
    ratios = rounds.log_ratios([a for a, _ in pairs], [b for _, b in pairs])
    return Speed(pairs, rounds.judge(ratios, MAX_SLOWDOWN))


@dataclass
class Upgrade:
    old_name: str
    new_name: str
    drift: list[dict[str, str]]
    numerics: fingerprints.Comparison
    convergence: Convergence
    speed: Speed
    setup: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> Verdict:
        """Differ on any regression; else inconclusive where speed went unjudged; else agree."""
        unjudged = [] if self.speed.judged else ["speed"]
        return Verdict.of(self.regressions(), unjudged)

    def regressions(self) -> list[str]:
        found = []
        broke = [c["use"] for c in self.drift if c["broke"]]
        if broke:
            found.append(f"drift ({len(broke)} call(s) now raise or are ignored)")
        if self.numerics.verdict.differ:
            found.append("numerics (the fingerprints differ)")
        if self.convergence.regressed:
            found.append("convergence (lower accuracy)")
        if self.speed.regressed:
            found.append(f"speed (slower than {MAX_SLOWDOWN}x)")
        return found


def check(old: dict[str, Any], new: dict[str, Any], old_name: str, new_name: str) -> Upgrade:
    """Every check of the upgrade from side ``old`` to side ``new`` (``read_side``'s)."""
    for part in ("convergence", "speed"):
        setups = (old[part]["setup"], new[part]["setup"])
        ran = [{k: v for k, v in setup.items() if k != "rounds"} for setup in setups]
        if ran[0] != ran[1]:
            raise ValueError(f"the two sides ran different {part} set-ups: {ran[0]} and {ran[1]}")
    return Upgrade(
        old_name=old_name,
        new_name=new_name,
        drift=drift_changes(old["drift"], new["drift"]),
        numerics=fingerprints.compare(old["fingerprint"], new["fingerprint"]),
        convergence=welch(old["convergence"]["accuracy"], new["convergence"]["accuracy"]),
        speed=speed_verdict(old["speed"]["rounds"], new["speed"]["rounds"]),
        setup={part: new[part].get("setup", {}) for part in ("convergence", "speed")},
    )


def _drift_section(upgrade: Upgrade) -> list[str]:
    lines = ["## Drift: the post's Keras calls whose outcome changed", ""]
    if not upgrade.drift:
        return [*lines, "None: every probed call behaves as before.", ""]
    lines += [f"| the post's use | {upgrade.old_name} | {upgrade.new_name} |", "|---|---|---|"]
    for c in upgrade.drift:
        mark = " **(broke)**" if c["broke"] else ""
        lines.append(f"| `{c['use']}` | {c['old']} | {c['new']}{mark} |")
    return [*lines, ""]


def _numerics_section(upgrade: Upgrade) -> list[str]:
    result = upgrade.numerics
    verdict = (
        "The training steps agree: every quantity within its tolerance."
        if result.agree
        else f"**First divergence**: {result.first}."
    )
    lines = [
        "## Numerics: the training-step fingerprints",
        "",
        verdict,
        "",
        "| quantity | largest relative difference | at update |",
        "|---|---|---|",
    ]
    for kind, values in result.largest.items():
        at = str(int(np.argmax(values))) if kind != "final" else "end"
        lines.append(f"| {kind} | {max(values):.3g} | {at} |")
    return [
        *lines,
        "",
        "Tolerances and the release differences they come from: docs/fingerprint.md.",
        "",
    ]


def _convergence_section(upgrade: Upgrade) -> list[str]:
    c = upgrade.convergence
    setup = upgrade.setup.get("convergence", {})
    rows = [(upgrade.old_name, c.old), (upgrade.new_name, c.new)]
    return [
        "## Convergence: final accuracy over seeds, one seed per round",
        "",
        f"Set-up: {setup or '(not recorded)'}.",
        "",
        "| side | seeds | mean accuracy % | std (points) |",
        "|---|---|---|---|",
        *(
            f"| {name} | {len(a)} | {100 * np.mean(a):.2f} | {100 * np.std(a, ddof=1):.2f} |"
            for name, a in rows
        ),
        "",
        f"Welch's t-test (two-sided, alpha {ALPHA}): difference "
        f"{100 * c.difference:+.2f} points, p = {c.p_value:.3g}. With {len(c.old)} and "
        f"{len(c.new)} seeds and these spreads, the smallest difference found with "
        f'{POWER:.0%} power is **{100 * c.detectable:.2f} accuracy points**: "no '
        'regression" means none larger than that. What it cannot see: a smaller loss, one '
        "that shows only after more epochs, on CIFAR-10 or on the post's full ResNet, and "
        "a change in any other set-up than this one.",
        "",
    ]


def _speed_section(upgrade: Upgrade) -> list[str]:
    s = upgrade.speed
    setup = upgrade.setup.get("speed", {})
    lines = [
        "## Speed: rounds alternated A B B A, paired side by side",
        "",
        f"Set-up: {setup or '(not recorded)'}.",
        "",
        f"| pair | {upgrade.old_name} ms/step | {upgrade.new_name} ms/step | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {a:.1f} | {b:.1f} | {b / a:.3f} |" for k, (a, b) in enumerate(s.pairs, 1)]
    if s.verdict is None:
        return [
            *lines,
            "",
            f"Not judged: {len(s.pairs)} pairs of rounds, where the verdict "
            f"needs {rounds.MIN_PAIRS} (6 rounds a side).",
            "",
        ]
    return [
        *lines,
        "",
        f"Ratio {s.verdict.sentence()}. Slower: the interval lies above 1 "
        f"and the ratio past {MAX_SLOWDOWN}; not slower: the interval ends below "
        f"{MAX_SLOWDOWN}; inconclusive otherwise (the machine's round-to-round spread "
        "covers the threshold). What it cannot see: a slowdown under the threshold, one "
        "that comes and goes within a round, and any model but the quick ResNet at "
        "batch 64 on the CPU.",
        "",
    ]


def render(upgrade: Upgrade) -> str:
    """UPGRADE.md: the verdict line first, then drift, numerics, convergence, speed."""
    judged = upgrade.verdict()
    sides = f"({upgrade.old_name} -> {upgrade.new_name})"
    verdict = (
        f"**REGRESSED** {sides}: {'; '.join(judged.reasons)}"
        if judged.differ
        else f"**NO REGRESSION** {sides}"
    )
    if not upgrade.speed.judged:
        verdict += "; speed " + ("not judged" if upgrade.speed.verdict is None else "inconclusive")
    lines = [verdict, "", f"# Upgrade check: {upgrade.old_name} -> {upgrade.new_name}", ""]
    for section in (_drift_section, _numerics_section, _convergence_section, _speed_section):
        lines += section(upgrade)
    return "\n".join(lines)


def write(old: Path, new: Path, old_name: str, new_name: str, out: Path) -> tuple[Upgrade, Path]:
    """Read both sides, render, write ``out`` whole; the exit code is 1 if it regressed."""
    for side in (old, new):
        if Path(out).resolve().is_relative_to(Path(side).resolve()):
            raise ValueError(f"--out {out} is inside the side folder {side}: write it elsewhere")
    upgrade = check(read_side(old), read_side(new), old_name, new_name)
    text = render(upgrade)
    return upgrade, files.atomic_write(out, lambda f: f.write(text.encode("utf-8")))
