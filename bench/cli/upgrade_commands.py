"""The upgrade check's commands: ``bench fingerprint`` and the per-environment steps
``nox -s upgrade`` runs in each environment. ``add_parsers(commands)`` registers them on
``bench``'s sub-command parser; ``python -m bench.cli.upgrade_commands ...`` runs them
alone. Bad input is one line on stderr and exit code 2, as every ``bench`` command."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.api import upgrade
from bench.core import checks
from bench.report import fingerprints
from bench.report import upgrade as report


def _milliseconds(text: str) -> float:
    """A sleep per step for ``--added-ms``: a finite number of ms from 0 to 10,000."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 10_000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of ms from 0 to 10,000")
    return value


def _share(text: str) -> float:
    """A share of labels for ``--label-noise``: a finite number from 0 to 0.9."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 0.9):
        raise argparse.ArgumentTypeError(f"{text!r} is not a share of labels from 0 to 0.9")
    return value


def _fingerprint(out: Path) -> None:
    """Write the fingerprint to ``out``, and say what ran and where it went."""
    result = upgrade.fingerprint(out)
    env = result["environment"]
    print(
        f"[INFO] fingerprint of TensorFlow {env['tensorflow']}, Keras {env['keras']} "
        f"({env['backend']}) on {env['cpu']}: {result['seconds']:.1f} s"
    )
    print(f"[INFO] wrote {out}")


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Write the training-step fingerprint (the post's five set-ups, CPU) to --out."""
    _fingerprint(args.out)
    return 0


def cmd_compare_fingerprints(args: argparse.Namespace) -> int:
    """Compare two fingerprint files: exit 0 if they agree, 1 if they differ."""
    result, text = fingerprints.compare_files(args.baseline, args.new)
    print(text)
    return 0 if result.agree else 1


def cmd_upgrade_side(args: argparse.Namespace) -> int:
    """One environment's part of the upgrade check, into --out: drift.json and
    fingerprint.json (nox -s upgrade runs it in each environment)."""
    row = upgrade.drift(args.out / "drift.json")
    odd = sum(p["outcome"] != "works" for p in row["probes"])
    print(f"[INFO] drift probe: {odd} of {len(row['probes'])} calls do not simply work")
    _fingerprint(args.out / "fingerprint.json")
    return 0


def cmd_upgrade_speed(args: argparse.Namespace) -> int:
    """One round into --out (JSON): per-step training times, then with --seed that
    convergence seed's final accuracy."""
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
    return 1 if result.regressions() else 0


def add_parsers(commands: Any) -> None:
    """Register this module's commands on ``bench``'s sub-command parser."""
    p = commands.add_parser("fingerprint", help=cmd_fingerprint.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the fingerprint's JSON file")
    p.set_defaults(func=cmd_fingerprint)

    p = commands.add_parser("compare-fingerprints", help=cmd_compare_fingerprints.__doc__)
    p.add_argument("baseline", type=Path)
    p.add_argument("new", type=Path)
    p.set_defaults(func=cmd_compare_fingerprints)

    p = commands.add_parser("upgrade-side", help=cmd_upgrade_side.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the side's folder")
    p.set_defaults(func=cmd_upgrade_side)

    p = commands.add_parser("upgrade-speed", help=cmd_upgrade_speed.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the round's JSON file")
    p.add_argument("--steps", type=checks.argument("steps"), default=20)
    p.add_argument(
        "--added-ms",
        type=_milliseconds,
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
        type=_share,
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, as bench's own parser
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="bench", description=__doc__.splitlines()[0])
    add_parsers(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
