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

# The convergence check's default: 3 seeds of a 5-epoch quick "step" run on the digits
# set fit both environments' checks in under 10 minutes on 2 cores (docs/fingerprint.md).
CONVERGENCE = {"schedule": "step", "seeds": 3, "epochs": 5}


def _milliseconds(text: str) -> float:
    """A sleep per step for ``--added-ms``: a finite number of ms from 0 to 10,000."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 10_000):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of ms from 0 to 10,000")
    return value


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Write the training-step fingerprint (the post's five set-ups, CPU) to --out."""
    result = upgrade.fingerprint(args.out)
    env = result["environment"]
    print(f"[INFO] fingerprint of TensorFlow {env['tensorflow']}, Keras {env['keras']} "
          f"({env['backend']}) on {env['cpu']}: {result['seconds']:.1f} s")  # fmt: skip
    print(f"[INFO] wrote {args.out}")
    return 0


def cmd_compare_fingerprints(args: argparse.Namespace) -> int:
    """Compare two fingerprint files: exit 0 if they agree, 1 if they differ."""
    result, text = fingerprints.compare_files(args.baseline, args.new)
    print(text)
    return 0 if result.agree else 1


def cmd_upgrade_side(args: argparse.Namespace) -> int:
    """One environment's part of the upgrade check, into --out: drift.json,
    fingerprint.json, convergence.json (nox -s upgrade runs it in each environment)."""
    out = args.out
    row = upgrade.drift(out / "drift.json")
    print(f"[INFO] drift probe: {sum(p['outcome'] != 'works' for p in row['probes'])} of "
          f"{len(row['probes'])} calls do not simply work")  # fmt: skip
    cmd_fingerprint(argparse.Namespace(out=out / "fingerprint.json"))
    result = upgrade.convergence(out / "convergence.json", args.schedule, args.seeds, args.epochs)
    print(f"[INFO] convergence: accuracies {', '.join(f'{a:.4f}' for a in result['accuracy'])}")
    return 0


def cmd_upgrade_speed(args: argparse.Namespace) -> int:
    """One round of per-step training times into --out (JSON)."""
    result = upgrade.speed(args.out, args.steps, args.added_ms)
    ms = sorted(result["ms_per_step"])
    print(f"[INFO] speed: median {ms[len(ms) // 2]:.1f} ms/step over {len(ms)} steps")
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
    p.add_argument("--schedule", default=CONVERGENCE["schedule"])
    p.add_argument("--seeds", type=checks.argument("seeds", 2), default=CONVERGENCE["seeds"])
    p.add_argument("--epochs", type=checks.argument("epochs"), default=CONVERGENCE["epochs"])
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
