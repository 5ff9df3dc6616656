"""``python -m bench`` / ``bench``: the suite's command line.

Every command turns bad input into one line on stderr and exit code 2, and writes each
output file whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench import experiments
from bench.golden import progbar


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage dump is two lines; we say one.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _save_figure(fig: object, path: Path) -> None:
    """Write ``fig`` to ``path`` through a temporary file, so a crash leaves no half PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_schedules(args: argparse.Namespace) -> int:
    """Print each experiment's learning rate per epoch, as Keras' progress bar logs it."""
    from tabulate import tabulate

    chosen = [experiments.get(name) for name in args.schedule or experiments.EXPERIMENTS]
    # Keras keeps the rate in float32 and prints that, so we do too (2.4414e-05, 0.0010).
    columns = [[progbar(float(np.float32(r))) for r in e.epoch_rates(args.epochs)] for e in chosen]
    rows = [[epoch + 1, *(c[epoch] for c in columns)] for epoch in range(args.epochs)]
    print(
        f"Learning rate at the first batch of each epoch, {args.epochs} epochs, "
        f"batch {experiments.BATCH_SIZE}, {experiments.TRAIN_IMAGES:,} images "
        f"({experiments.steps_per_epoch(experiments.TRAIN_IMAGES)} steps per epoch)"
    )
    print(tabulate(rows, headers=["epoch", *(e.name for e in chosen)], disable_numparse=True))
    if args.plot_dir is not None:
        for e in chosen:
            schedule = e.schedule(args.epochs)
            if schedule is None or e.lr_plot is None:
                continue
            path = args.plot_dir / e.lr_plot
            _save_figure(schedule.plot(range(args.epochs)), path)
            print(f"[INFO] wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("schedules", help=cmd_schedules.__doc__)
    p.add_argument(
        "-s",
        "--schedule",
        action="append",
        metavar="NAME",
        help=f"one of {', '.join(experiments.EXPERIMENTS)} (repeatable; default: all)",
    )
    p.add_argument("-e", "--epochs", type=int, default=experiments.EPOCHS, help="# of epochs")
    p.add_argument("--plot-dir", type=Path, help="also write the post's lr_*_schedule.png here")
    p.set_defaults(func=cmd_schedules)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
