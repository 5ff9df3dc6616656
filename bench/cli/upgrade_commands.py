"""The upgrade check's commands: ``bench fingerprint`` and the per-environment steps
``nox -s upgrade`` runs in each environment. ``add_parsers(commands)`` registers them on
``bench``'s sub-command parser; ``python -m bench.cli.upgrade_commands ...`` runs them
alone. Bad input is one line on stderr and exit code 2, as every ``bench`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.api import upgrade


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Write the training-step fingerprint (the post's five set-ups, CPU) to --out."""
    result = upgrade.fingerprint(args.out)
    env = result["environment"]
    print(f"[INFO] fingerprint of TensorFlow {env['tensorflow']}, Keras {env['keras']} "
          f"({env['backend']}) on {env['cpu']}: {result['seconds']:.1f} s")  # fmt: skip
    print(f"[INFO] wrote {args.out}")
    return 0


def add_parsers(commands: Any) -> None:
    """Register this module's commands on ``bench``'s sub-command parser."""
    p = commands.add_parser("fingerprint", help=cmd_fingerprint.__doc__)
    p.add_argument("--out", type=Path, required=True, help="the fingerprint's JSON file")
    p.set_defaults(func=cmd_fingerprint)


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
