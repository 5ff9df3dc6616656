"""The upgrade check's commands: ``bench fingerprint`` and the per-environment steps
``nox -s upgrade`` runs in each environment. ``add_parsers(commands)`` registers them on
``bench``'s sub-command parser (two fingerprints are compared by ``bench compare``). Bad
input is one line on stderr and exit code 2, as every ``bench`` command."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api import upgrade
from bench.core import checks
from bench.report import upgrade as report


def _between(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number from ``low`` to ``high``, else one line naming
    ``what`` it must be (checked with the other arguments, before any work starts)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} from {low:,g} to {high:,g}")
        return value

    return parse


# A sleep per step for --added-ms, and a share of labels for --label-noise.
MILLISECONDS = _between(0, 10_000, "a number of ms")
SHARE = _between(0, 0.9, "a share of labels")


def _write_fingerprint(out: Path) -> None:
    """The fingerprint written to ``out``, and two lines saying what and where."""
    result = upgrade.fingerprint(out)
    env = result["environment"]
    print(
        f"[INFO] fingerprint of TensorFlow {env['tensorflow']}, Keras {env['keras']} "
        f"({env['backend']}) on {env['cpu']}: {result['seconds']:.1f} s"
    )
    print(f"[INFO] wrote {out}")


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Write the training-step fingerprint (the post's five set-ups, CPU) to --out."""
    _write_fingerprint(args.out)
    return 0


def cmd_upgrade_side(args: argparse.Namespace) -> int:
    """One environment's part of the upgrade check, into --out: drift.json and
    fingerprint.json (nox -s upgrade runs it in each environment)."""
    row = upgrade.drift(args.out / "drift.json")
    odd = sum(p["outcome"] != "works" for p in row["probes"])
    print(f"[INFO] drift probe: {odd} of {len(row['probes'])} calls do not simply work")
    _write_fingerprint(args.out / "fingerprint.json")
    return 0


def cmd_upgrade_speed(args: argparse.Namespace) -> int:
    """One round into --out (JSON): per-step training times, then with --seed that
    convergence seed's final accuracy."""
    if args.label_noise and args.seed is None:
        raise ValueError("--label-noise changes the convergence seed's labels: give --seed")
    result = upgrade.speed(args.out, args.steps, args.added_ms, args.seed, args.label_noise)
    ms = sorted(result["ms_per_step"])
    print(f"[INFO] speed: median {ms[len(ms) // 2]:.1f} ms/step over {len(ms)} steps")
    if "convergence" in result:
        seed = result["convergence"]
        print(f"[INFO] convergence: seed {seed['seed']}, accuracy {seed['accuracy']:.4f}")
    return 0


def cmd_upgrade_report(args: argparse.Namespace) -> int:
    """Write UPGRADE.md from two sides' folders: exit 0 if nothing regressed, 1 if it did."""
    result, path = report.write(args.old, args.new, args.old_name, args.new_name, args.out)
    print(f"[INFO] wrote {path}")
    print(report.render(result).splitlines()[0])
    return result.verdict().exit_code


def add_parsers(commands: Any) -> None:
    """Register this module's commands on ``bench``'s sub-command parser."""
    p = commands.add_parser("fingerprint", help=cmd_fingerprint.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the fingerprint's JSON file")
    p.set_defaults(func=cmd_fingerprint)

    p = commands.add_parser("upgrade-side", help=cmd_upgrade_side.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the side's folder")
    p.set_defaults(func=cmd_upgrade_side)

    p = commands.add_parser("upgrade-speed", help=cmd_upgrade_speed.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the round's JSON file")
    p.add_argument("--steps", type=checks.argument("steps"), default=20)
    p.add_argument(
        "--added-ms",
        type=MILLISECONDS,
        default=0.0,
        metavar="MS",
        help="sleep this long inside each timed step: a known slowdown, to "
        "calibrate the speed verdict (tests/unit/test_speed_verdict.py)",
    )
    p.add_argument(
        "--seed",
        type=checks.argument("seed", 0),
        default=None,
        help="then train this seed of the convergence set-up (bench.api.upgrade.CONVERGENCE)",
    )
    p.add_argument(
        "--label-noise",
        type=SHARE,
        default=0.0,
        metavar="SHARE",
        help="replace this share of the convergence seed's training labels with random "
        "ones: a known loss of accuracy, to calibrate the convergence verdict "
        "(tests/unit/test_convergence_verdict.py)",
    )
    p.set_defaults(func=cmd_upgrade_speed)

    p = commands.add_parser("upgrade-report", help=cmd_upgrade_report.__doc__)
    p.add_argument("old", type=Path, help="the 'from' side's folder")
    p.add_argument("new", type=Path, help="the candidate's folder")
    p.add_argument("--old-name", required=True)
    p.add_argument("--new-name", required=True)
    p.add_argument("--out", type=Path, required=True, help="UPGRADE.md")
    p.set_defaults(func=cmd_upgrade_report)
