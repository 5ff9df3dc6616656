"""``python -m bench`` / ``bench``: the suite's command line.

Every command turns bad input into one line on stderr and exit code 2, and writes each
output file whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import data, experiments, files, plots, results
from bench.golden import progbar


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage dump is two lines; we say one.
        self.exit(2, f"{self.prog}: error: {message}\n")


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
        steps = experiments.steps_per_epoch(experiments.TRAIN_IMAGES)
        for e in chosen:
            figure = e.lr_figure(args.epochs, steps)
            if figure is None or e.lr_plot is None:
                continue
            path = args.plot_dir / e.lr_plot
            plots.save(figure, path)
            print(f"[INFO] wrote {path}")
    return 0


def _positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def finished(path: Path, force: bool) -> bool:
    """Whether ``path`` holds a finished run's valid results (so there is nothing to do).

    An unreadable results file is an error rather than a reason to train again: it may be
    the only copy of hours of work.
    """
    if force or not path.exists():
        return False
    results.read(path)  # ResultsError (a ValueError) names the file and the problem
    return True


def _interrupted(command: str, state_dir: Path) -> int:
    print(
        f"bench {command}: interrupted; run the same command again to resume "
        f"(state kept in {state_dir})",
        file=sys.stderr,
    )
    return 130


def cmd_train(args: argparse.Namespace) -> int:
    """Train one of the post's experiments (its train.py), write results JSON and plots."""
    experiment = experiments.get(args.schedule)
    if args.model == "quick":
        experiment = replace(experiment, model_args=dict(experiments.QUICK_MODEL_ARGS))
    for name in ("epochs", "batch_size", "subset"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.seed < 0:
        raise ValueError(f"seed must be >= 0, got {args.seed}")
    # Relative plot paths land in --out, so one folder holds a run's outputs.
    lr_plot, train_plot = (args.out / p for p in (args.lr_plot, args.train_plot))
    for folder in {args.out, lr_plot.parent, train_plot.parent}:
        files.check_writable(folder)
    results_path = args.out / results.file_name(experiment.name, args.seed)
    if finished(results_path, args.force):
        print(f"[INFO] {results_path} is finished already; --force trains it again")
        return 0

    # The post prints the schedule line before loading for its own schedules, after for
    # Keras' (none, standard): its train.py decides them at those two places.
    per_epoch = experiment.schedule_class is not None
    if per_epoch:
        print(experiment.info)
    print(f"[INFO] loading {data.TITLES[args.dataset]} data...")
    dataset = data.load(args.dataset, args.data_dir)
    if args.subset is not None:
        dataset = data.subset(dataset, args.subset, args.seed)
    if not per_epoch:
        print(experiment.info)
    # Imported only now: TensorFlow takes seconds to load, and bad input should not wait.
    from bench import train

    state_dir = args.out / "state" / results_path.stem
    try:
        results_data = train.run(
            experiment,
            dataset,
            epochs=args.epochs,
            seed=args.seed,
            batch_size=args.batch_size,
            state_dir=state_dir,
            subset=args.subset,
            deterministic=args.deterministic,
            force=args.force,
            verbose=args.verbose,
        )
    except KeyboardInterrupt:
        return _interrupted("train", state_dir)
    for path in train.save(results_data, experiment, args.out, lr_plot, train_plot):
        print(f"[INFO] wrote {path}")
    train.finish(state_dir)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the post's experiments (x seeds), then write the markdown report."""
    from bench import reproduce

    names = experiments.names(args.schedules)
    for name in ("epochs", "batch_size", "subset", "seeds"):
        _positive(name.replace("_", "-"), getattr(args, name))
    chosen = reproduce.plan_experiments(names, args.quick, args.epochs, args.batch_size)
    dataset_name = args.dataset or (experiments.QUICK_DATASET if args.quick else "cifar10")
    name = args.name or (
        "quick"
        if args.quick
        else f"{dataset_name}-{chosen[0].epochs}ep-{args.seeds}seed"
        + (f"-subset{args.subset}" if args.subset else "")
    )
    out = args.out or Path("reports") / name
    files.check_writable(out)

    print(f"[INFO] loading {data.TITLES[dataset_name]} data...")
    dataset = data.load(dataset_name, args.data_dir)
    if args.subset is not None:
        dataset = data.subset(dataset, args.subset, seed=0)
    try:
        failed = reproduce.run_all(
            out,
            chosen,
            dataset,
            list(range(args.seeds)),
            subset=args.subset,
            quick=args.quick,
            deterministic=args.deterministic,
            force=args.force,
            verbose=args.verbose,
        )
    except KeyboardInterrupt:
        return _interrupted("reproduce", out / reproduce.STATE)
    from bench import report

    print(f"[INFO] results: {out / reproduce.RUNS}")
    print(f"[INFO] report: {report.write(out)}")
    if failed:
        print(f"bench reproduce: {failed} run(s) failed; the report marks them", file=sys.stderr)
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write REPORT.md (and its figures) for a results folder."""
    from bench import report

    print(f"[INFO] report: {report.write(args.folder)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two results sets (before/after an upgrade): exit 1 if anything regressed."""
    from bench import compare

    rows, regressions = compare.compare(args.baseline, args.new, args.max_slowdown)
    print(compare.render(rows))
    for regression in regressions:
        print(f"[REGRESSION] {regression}")
    print(f"[INFO] {len(regressions)} regression(s): {args.baseline} -> {args.new}")
    return 1 if regressions else 0


def cmd_drift(args: argparse.Namespace) -> int:
    """Probe the post's Keras calls on the installed TensorFlow; merge into the drift table."""
    from tabulate import tabulate

    from bench import drift

    row = drift.current_row(args.name)
    print(f"API drift on {drift.column(row)}:")
    table = [[p["use"], p["outcome"], p["effect"]] for p in row["probes"]]
    print(tabulate(table, headers=["the post's use", "outcome", "effect"]))
    if args.print_only:
        return 0
    saved, report = drift.save(row, args.rows, args.report)
    print(f"[INFO] saved {saved}; merged table: {report}")
    return 0


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="TensorFlow op determinism on top of the seeding: bit-identical reruns",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="train again even if finished, dropping any interrupted state",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("schedules", help=cmd_schedules.__doc__)
    p.add_argument(
        "-s",
        "--schedule",
        action="append",
        metavar="NAME",
        help=f"one of {', '.join(experiments.ALL)} (repeatable; default: the post's five)",
    )
    p.add_argument("-e", "--epochs", type=int, default=experiments.EPOCHS, help="# of epochs")
    p.add_argument("--plot-dir", type=Path, help="also write the post's lr_*_schedule.png here")
    p.set_defaults(func=cmd_schedules)

    p = commands.add_parser("train", help=cmd_train.__doc__)
    # The post's four flags, with its defaults.
    p.add_argument(
        "-s",
        "--schedule",
        default="",
        help="none (the default), standard, step, linear or poly; or beyond the post: "
        + ", ".join(experiments.EXTRA),
    )
    p.add_argument(
        "-e", "--epochs", type=int, default=experiments.EPOCHS, help="# of epochs to train for"
    )
    p.add_argument(
        "-l",
        "--lr-plot",
        type=Path,
        default=Path("lr.png"),
        help="learning-rate plot (relative: inside --out)",
    )
    p.add_argument(
        "-t",
        "--train-plot",
        type=Path,
        default=Path("training.png"),
        help="training plot (relative: inside --out)",
    )
    p.add_argument(
        "--dataset",
        choices=data.DATASETS,
        default="cifar10",
        help="cifar10 (the post's) or the embedded offline digits",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help=f"CIFAR-10 archive or folder (default: ${data.CIFAR10_ENV}, Keras' caches, download)",
    )
    p.add_argument(
        "--subset",
        type=int,
        help="train on N images (seeded, stratified; the test set shrinks in proportion)",
    )
    p.add_argument(
        "--seed", type=int, default=42, help="seed for weights, shuffling and --subset (default 42)"
    )
    p.add_argument(
        "--batch-size", type=int, default=experiments.BATCH_SIZE, help="default: the post's 128"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("output"),
        help="folder for the results JSON and plots (default: output)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras' fit verbosity (1: progress bar)",
    )
    _add_run_flags(p)
    p.add_argument(
        "--model",
        choices=("post", "quick"),
        default="post",
        help="the post's ResNet, or the quick reproduction's small one",
    )
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("reproduce", help=cmd_reproduce.__doc__)
    p.add_argument(
        "--schedules",
        help="comma-separated experiments, or post (the post's five, the default), "
        "extra (the schedules beyond the post) or all",
    )
    p.add_argument(
        "--seeds", type=int, default=1, help="seeds per experiment: 0, 1, ... (default 1)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"the README's main job: {experiments.QUICK_DATASET}, "
        f"{experiments.QUICK_EPOCHS} epochs, a small ResNet, on the CPU",
    )
    p.add_argument(
        "--dataset", choices=data.DATASETS, help="default: cifar10 (digits with --quick)"
    )
    p.add_argument("--data-dir", type=Path, help="CIFAR-10 archive or folder (as for train)")
    p.add_argument(
        "--epochs",
        type=int,
        help=f"default: the post's 100 ({experiments.QUICK_EPOCHS} with --quick)",
    )
    p.add_argument("--subset", type=int, help="train on N images (seeded, stratified)")
    p.add_argument("--batch-size", type=int, help="default: the post's 128 (64 with --quick)")
    p.add_argument("--name", help="the run set's name (default: from its settings)")
    p.add_argument("--out", type=Path, help="results and report folder (default: reports/NAME)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras' fit verbosity")
    _add_run_flags(p)
    p.set_defaults(func=cmd_reproduce)

    p = commands.add_parser("compare", help=cmd_compare.__doc__)
    p.add_argument("baseline", type=Path, help="results folder before (e.g. reports/quick)")
    p.add_argument("new", type=Path, help="results folder after")
    p.add_argument(
        "--max-slowdown",
        type=float,
        default=1.25,
        help="largest accepted ms/step ratio new/baseline (default 1.25)",
    )
    p.set_defaults(func=cmd_compare)

    p = commands.add_parser("drift", help=cmd_drift.__doc__)
    p.add_argument(
        "--rows", type=Path, default=Path("reports/api-drift"), help="folder of saved rows"
    )
    p.add_argument(
        "--report", type=Path, default=Path("reports/api-drift.md"), help="the merged table"
    )
    p.add_argument("--print-only", action="store_true", help="print this release's row only")
    p.add_argument(
        "--name",
        help="the row's file name in --rows (default: from the versions; nox -s "
        "compat passes its matrix row, so a re-run replaces its own column)",
    )
    p.set_defaults(func=cmd_drift)

    p = commands.add_parser("report", help=cmd_report.__doc__)
    p.add_argument("folder", type=Path, help="a folder written by bench reproduce")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return 2
