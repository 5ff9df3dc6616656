"""Two training-step fingerprints (``bench fingerprint``) compared: do two environments
compute the post's training step alike, and if not, where do they first part?

Every quantity is compared by its relative difference ``|a - b| / max(|a|, |b|)``:

- per update, for each set-up: the applied learning rate, the loss, and each variable's
  movement since the start (sum of squares), in that order;
- after the last update: each variable's sum, sum of squares and largest absolute value
  (a sum is measured against the variable's norm, since a sum near zero has no scale).

The tolerance is derived from the differences measured between real releases
(docs/fingerprint.md): floating-point order differs between releases (and CPUs), so a
difference starts in the last digits and grows with each update; a changed default shows
at the first update it touches and is orders of magnitude larger. ``verdict.TOLERANCE``
holds, per quantity, the tolerance at update 0 and its growth per update, capped;
``derive`` makes it from measured comparisons.

Reads JSON only: no Keras here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import formats
from bench.report import verdict
from bench.report.verdict import FINGERPRINT_MARGIN, KNOTS, Tolerance, Verdict

STATISTICS = ("sum", "sumsq", "maxabs")


def derive(largest: list[dict[str, list[float]]], kind: str, cap: float = 1.0) -> Tolerance:
    """``FINGERPRINT_MARGIN`` x the largest difference of ``kind`` over the given comparisons
    (their ``Comparison.largest``), taken over each knot's whole interval and every earlier
    one, capped."""
    worst = np.max([np.asarray(found[kind]) for found in largest], axis=0)
    bounds = [*KNOTS[1:], len(worst)]
    values = [
        float(worst[lo:hi].max()) if lo < len(worst) else float(worst.max())
        for lo, hi in zip(KNOTS, bounds, strict=True)
    ]
    # A file keeps 10 significant digits: below 1e-9 two files cannot tell numbers apart.
    values = np.maximum.accumulate(values).tolist()  # a later update never gets less room
    return Tolerance(
        tuple(min(cap, max(1e-9, float(f"{FINGERPRINT_MARGIN * v:.2g}"))) for v in values)
    )


def _fail(path: Path, reason: str) -> ValueError:
    return ValueError(f"{path}: not a usable fingerprint file ({reason})")


def _numbers(path: Path, where: str, values: Any, length: int) -> None:
    if not isinstance(values, list) or len(values) != length:
        raise _fail(path, f"{where} is not a list of {length} numbers")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(path, f"{where} holds {value!r}, not a finite number")


def _check_setup(path: Path, name: str, trace: Any, variables: list[str], length: int) -> None:
    if not isinstance(trace, dict):
        raise _fail(path, f"set-up {name!r} is not an object")
    for key in ("lr", "loss"):
        _numbers(path, f"{name}.{key}", trace.get(key), length)
    moved, final = trace.get("moved"), trace.get("final")
    if not isinstance(moved, dict) or list(moved) != variables:
        raise _fail(path, f"{name}.moved does not list the file's variables")
    if not isinstance(final, dict) or list(final) != variables:
        raise _fail(path, f"{name}.final does not list the file's variables")
    for variable in variables:
        _numbers(path, f"{name}.moved[{variable!r}]", moved[variable], length)
        stats = final[variable]
        if not isinstance(stats, dict) or sorted(stats) != sorted(STATISTICS):
            raise _fail(path, f"{name}.final[{variable!r}] lacks {', '.join(STATISTICS)}")
        _numbers(path, f"{name}.final[{variable!r}]", [stats[s] for s in STATISTICS], 3)


def validate(value: Any, path: Path) -> dict[str, Any]:
    """``value`` if it is a whole fingerprint, else ValueError naming ``path`` and why."""
    if not isinstance(value, dict) or value.get("format") != formats.FINGERPRINT:
        raise _fail(path, f'no "format": "{formats.FINGERPRINT}"')
    for key, kind in (
        ("environment", dict),
        ("config", dict),
        ("variables", list),
        ("setups", dict),
    ):
        if not isinstance(value.get(key), kind):
            raise _fail(path, f"{key!r} missing or not a {kind.__name__}")
    epochs = value["config"].get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise _fail(path, "config.epochs is not a whole number >= 1")
    variables = value["variables"]
    if not variables or not all(isinstance(v, str) for v in variables):
        raise _fail(path, "'variables' is not a list of names")
    if len(set(variables)) != len(variables):
        raise _fail(path, "'variables' names one variable twice")
    if not value["setups"]:
        raise _fail(path, "no set-ups")
    for name, trace in value["setups"].items():
        _check_setup(path, name, trace, variables, epochs)
    return value


def read(path: Path) -> dict[str, Any]:
    """A fingerprint file, validated whole."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not JSON: {exc}") from None
    return validate(value, path)


def is_fingerprint(path: Path) -> bool:
    """Whether ``path`` is a file that claims to be a fingerprint (``bench compare`` routes
    on it; ``read`` then validates it whole)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            head = f.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    tag = formats.FINGERPRINT
    return f'"format": "{tag}"' in head or f'"format":"{tag}"' in head


@dataclass(frozen=True)
class Divergence:
    """The first quantity beyond its tolerance."""

    setup: str
    update: int | None  # None: the summary after the last update
    quantity: str  # "learning rate", "loss", "<variable>: moved", "<variable>: <statistic>"
    baseline: float
    candidate: float
    difference: float
    tolerance: float

    def __str__(self) -> str:
        when = f"update {self.update}" if self.update is not None else "after the last update"
        return (
            f"set-up {self.setup}, {when}, {self.quantity}: {self.baseline:.9g} -> "
            f"{self.candidate:.9g} (relative difference {self.difference:.3g} > "
            f"tolerance {self.tolerance:.3g})"
        )


@dataclass
class Comparison:
    baseline: dict[str, Any]
    candidate: dict[str, Any]
    first: Divergence | None
    # quantity -> the largest relative difference at each update (over set-ups, variables)
    largest: dict[str, list[float]] = field(default_factory=dict)

    @property
    def agree(self) -> bool:
        return self.first is None

    @property
    def verdict(self) -> Verdict:
        """Differ, naming the first divergence, or agree."""
        return Verdict.of([str(self.first)] if self.first is not None else [])


def relative(a: np.ndarray, b: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """``|a - b| / max(|a|, |b|, scale)``, 0 where both are 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    denominator = np.maximum(np.abs(a), np.abs(b))
    if scale is not None:
        denominator = np.maximum(denominator, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.abs(a - b) / denominator
    return np.where(denominator > 0, out, 0.0)


def _comparable(baseline: dict[str, Any], candidate: dict[str, Any]) -> None:
    """ValueError unless both ran the same burst (the mutations under test may differ)."""
    skip = {"mutations", "threads"}
    for key in sorted(set(baseline["config"]) | set(candidate["config"])):
        a, b = baseline["config"].get(key), candidate["config"].get(key)
        if key not in skip and a != b:
            raise ValueError(
                f"the fingerprints ran different bursts: config.{key} is {a!r} "
                f"and {b!r}; make both with the same bench fingerprint"
            )
    if baseline["variables"] != candidate["variables"]:
        extra = sorted(set(baseline["variables"]) ^ set(candidate["variables"]))
        raise ValueError(
            "the fingerprints' models differ: variables "
            f"{', '.join(extra[:3]) or '(the same, in another order)'}"
        )
    missing = sorted(set(baseline["setups"]) ^ set(candidate["setups"]))
    if missing:
        raise ValueError(f"set-up(s) {', '.join(missing)} in one fingerprint only")


def _series(trace: dict[str, Any], variables: list[str]) -> list[tuple[str, str, np.ndarray]]:
    """(label, tolerance kind, values per update) in the order they are checked."""
    found = [
        ("learning rate", "lr", np.asarray(trace["lr"], float)),
        ("loss", "loss", np.asarray(trace["loss"], float)),
    ]
    for v in variables:
        kind = "moving_variance" if v.endswith("/moving_variance") else "moved"
        found.append((f"{v}: moved", kind, np.asarray(trace["moved"][v], float)))
    return found


def _first_in_setup(
    name: str,
    a: dict[str, Any],
    b: dict[str, Any],
    variables: list[str],
    largest: dict[str, np.ndarray],
) -> Divergence | None:
    """The earliest update at which ``name`` differs beyond tolerance (first in check order)."""
    best: Divergence | None = None
    for (label, kind, x), (_, _, y) in zip(
        _series(a, variables), _series(b, variables), strict=True
    ):
        diff = relative(x, y)
        largest[kind] = np.maximum(largest.get(kind, np.zeros_like(diff)), diff)
        tol = verdict.TOLERANCE[kind].at(np.arange(len(x)))
        beyond = np.flatnonzero(diff > tol)
        if len(beyond) and (best is None or beyond[0] < best.update):
            u = int(beyond[0])
            best = Divergence(
                name, u, label, float(x[u]), float(y[u]), float(diff[u]), float(tol[u])
            )
    return best


def _first_final(
    name: str,
    a: dict[str, Any],
    b: dict[str, Any],
    variables: list[str],
    largest: dict[str, np.ndarray],
) -> Divergence | None:
    tolerance = float(verdict.TOLERANCE["final"].at(np.array([0]))[0])
    first = None
    for variable in variables:
        sa, sb = a["final"][variable], b["final"][variable]
        norm = math.sqrt(max(sa["sumsq"], sb["sumsq"]))
        for stat in STATISTICS:
            diff = float(relative(sa[stat], sb[stat], np.asarray(norm)))
            largest["final"] = np.maximum(largest.get("final", np.zeros(1)), diff)
            if diff > tolerance and first is None:
                first = Divergence(
                    name, None, f"{variable}: {stat}", sa[stat], sb[stat], diff, tolerance
                )
    return first


def compare(baseline: dict[str, Any], candidate: dict[str, Any]) -> Comparison:
    """Where ``candidate`` first parts from ``baseline`` beyond the tolerance: the earliest
    update over all set-ups (ties: the post's set-up order), else the final summary."""
    _comparable(baseline, candidate)
    variables = baseline["variables"]
    largest: dict[str, np.ndarray] = {}
    during, after = [], []
    for name in baseline["setups"]:
        a, b = baseline["setups"][name], candidate["setups"][name]
        during.append(_first_in_setup(name, a, b, variables, largest))
        after.append(_first_final(name, a, b, variables, largest))
    found = [d for d in during if d is not None]
    first = min(found, key=lambda d: d.update) if found else None
    first = first or next((d for d in after if d is not None), None)
    return Comparison(baseline, candidate, first, {k: v.tolist() for k, v in largest.items()})


def _side(fingerprint: dict[str, Any]) -> str:
    env = fingerprint["environment"]
    mutations = fingerprint["config"].get("mutations") or {}
    changed = f", mutated: {mutations}" if mutations else ""
    return (
        f"TensorFlow {env.get('tensorflow')}, Keras {env.get('keras')} "
        f"({env.get('backend')}) on {env.get('cpu')}{changed}"
    )


def render(result: Comparison) -> str:
    """The verdict in a few lines: both sides, then agreement or the first divergence, and
    the largest difference of each quantity against its tolerance."""
    lines = [f"baseline:  {_side(result.baseline)}", f"candidate: {_side(result.candidate)}"]
    if result.agree:
        lines.append("AGREE: every quantity within its tolerance")
    else:
        lines.append(f"DIFFER: first divergence at {result.first}")
    for kind, values in result.largest.items():
        worst = int(np.argmax(values))
        at = f" (update {worst})" if kind != "final" else ""
        lines.append(f"  largest {kind} difference {max(values):.3g}{at}")
    return "\n".join(lines)


def compare_files(baseline: Path, candidate: Path) -> tuple[Comparison, str]:
    """Read both (validated), compare, render. Exit code: ``.verdict.exit_code``."""
    result = compare(read(baseline), read(candidate))
    return result, render(result)
