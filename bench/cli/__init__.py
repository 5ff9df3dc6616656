"""``python -m bench`` / ``bench``: the suite's command line.

Every command turns bad input into one line on stderr and exit code 2, and writes each
output file whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench.core import backend, checks, data, experiments, files, stop
from bench.core.progbar import progbar
from bench.report import compare, figures, markdown, text
from bench.run import lifecycle, local, runset


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage dump is two lines; we say one.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _load(name: str, data_dir: Path | None, subset: int | None, seed: int) -> data.Dataset:
    print(f"[INFO] loading {data.TITLES[name]} data...")
    dataset = data.load(name, data_dir)
    return dataset if subset is None else data.subset(dataset, subset, seed)


def _interrupted(command: str, state_dir: Path | None, interrupt: KeyboardInterrupt) -> int:
    print(stop.message(command, interrupt, state_dir), file=sys.stderr)
    return stop.exit_code(interrupt)


def cmd_schedules(args: argparse.Namespace) -> int:
    """Print each experiment's learning rate per epoch, as Keras' progress bar logs it."""

    chosen = [experiments.get(name) for name in args.schedule or experiments.EXPERIMENTS]
    # Keras keeps the rate in float32 and prints that, so we do too (2.4414e-05, 0.0010).
    columns = [[progbar(float(np.float32(r))) for r in e.epoch_rates(args.epochs)] for e in chosen]
    rows = [[epoch + 1, *(c[epoch] for c in columns)] for epoch in range(args.epochs)]
    steps = experiments.steps_per_epoch(experiments.TRAIN_IMAGES)
    print(
        f"Learning rate at the first batch of each epoch, {args.epochs} epochs, "
        f"batch {experiments.BATCH_SIZE}, {experiments.TRAIN_IMAGES:,} images "
        f"({steps} steps per epoch)"
    )
    print(tabulate(rows, headers=["epoch", *(e.name for e in chosen)], disable_numparse=True))
    for e in chosen if args.plot_dir is not None else ():
        figure = figures.schedule_figure(e, args.epochs, steps)
        if figure is not None and e.lr_plot is not None:
            print(f"[INFO] wrote {figures.save(figure, args.plot_dir / e.lr_plot)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one of the post's experiments (its train.py), write results JSON and plots."""
    rates, source = _rates(args)
    experiment = experiments.configure(args.schedule, epochs=args.epochs,
                                       batch_size=args.batch_size, model=args.model,
                                       rates=rates, lr_source=source)  # fmt: skip
    run = experiments.Run(experiment, args.seed, args.dataset, args.subset, args.deterministic)
    # Relative plot paths land in --out, so one folder holds a run's outputs.
    lr_plot, train_plot = (args.out / p for p in (args.lr_plot, args.train_plot))
    for folder in {args.out, lr_plot.parent, train_plot.parent}:
        files.check_writable(folder)
    for plot in (lr_plot, train_plot):
        figures.check_path(plot)
    path = runset.results_path(args.out, experiment.name, args.seed, in_runs=False)
    state_dir = runset.state_dir(args.out, experiment.name, args.seed)
    # The post prints the schedule line before loading for its own schedules, after for
    # Keras' (none, standard): its train.py decides them at those two places.
    per_epoch = experiment.schedule_class is not None
    if per_epoch:
        print(experiment.info)
    dataset = _load(args.dataset, args.data_dir, args.subset, args.seed)
    if not per_epoch:
        print(experiment.info)
    # Read-only first: a finished run (or a refusal) writes nothing, not even the lock;
    # one that left a state behind goes through complete(), which clears it.
    if lifecycle.finished(path, run, dataset, args.force) and not state_dir.exists():
        print(f"[INFO] {path} is finished already; --force trains it again")
        return 0
    with runset.lock(args.out):
        try:
            trained = lifecycle.complete(run, dataset, path, state_dir,
                                         force=args.force, verbose=args.verbose)  # fmt: skip
        except KeyboardInterrupt as interrupt:
            return _interrupted("train", state_dir, interrupt)
    if trained is None:
        print(f"[INFO] {path} is finished already; --force trains it again")
        return 0
    for written in [path, *figures.save_run_figures(trained, experiment, lr_plot, train_plot)]:
        print(f"[INFO] wrote {written}")
    return 0


def _set_name(args: argparse.Namespace, dataset: str, epochs: int) -> str:
    """The default run-set name; a backend other than TensorFlow (the default) is named,
    so that its runs never land beside TensorFlow's."""
    if args.name:
        return args.name
    name = "quick" if args.quick else f"{dataset}-{epochs}ep-{args.seeds}seed"
    name += f"-subset{args.subset}" if args.subset and not args.quick else ""
    if args.backends:
        return f"{name}-backends"
    configured = backend.configured()
    return name if configured == backend.DEFAULT else f"{name}-{configured}"


def _forwarded(args: argparse.Namespace, command: str, skip: set[str]) -> list[str]:
    """The command line that gives ``command`` these ``args`` (but ``skip``'s flags), from
    the flag tables: what a child ``bench`` process is handed."""
    argv = []
    for flag, overrides in FLAGS_BY_COMMAND[command].items():
        names, keywords = FLAGS[flag]
        value = getattr(args, flag)
        if flag in skip or value is None or value is False:
            continue
        if value == {**keywords, **overrides}.get("default"):
            continue
        argv += [names[-1]] if value is True else [names[-1], str(value)]
    return argv


def _reproduce_backends(args: argparse.Namespace, out: Path) -> int:
    """``reproduce --backends``: each backend in its own process, then BACKENDS.md."""
    from bench.api import backends

    names = backends.parse(args.backends)
    files.check_writable(out)
    with runset.lock(out):
        try:
            failed = backends.run_all(
                out, names, _forwarded(args, "reproduce", {"backends", "out"})
            )
        except KeyboardInterrupt as interrupt:
            return _interrupted("reproduce", out, interrupt)
    if failed:
        print(f"bench reproduce: {failed} backend(s) failed; see their reports",
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the post's experiments (x seeds), then write the markdown report."""

    if args.workers is not None and args.ray is None:
        raise ValueError("--workers goes with --ray (runs at once on a CPU-only Ray)")
    if args.ray is not None:
        from bench.run import ray_tasks

        ray_tasks.require()
    dataset_name = args.dataset or (experiments.QUICK_DATASET if args.quick else "cifar10")
    runs = local.plan_runs(
        experiments.names(args.schedules), args.seeds, dataset_name, args.subset,
        args.deterministic, quick_setup=args.quick, epochs=args.epochs,
        batch_size=args.batch_size,
    )  # fmt: skip
    out = args.out or Path("reports") / _set_name(args, dataset_name, runs[0].experiment.epochs)
    if args.backends:
        return _reproduce_backends(args, out)
    files.check_writable(out)
    dataset = _load(dataset_name, args.data_dir, args.subset, seed=0)
    with runset.lock(out):
        try:
            failed = _execute(args, out, runs, dataset)
        except KeyboardInterrupt as interrupt:
            return _interrupted("reproduce", out / runset.STATE, interrupt)

        print(f"[INFO] results: {out / runset.RUNS}")
        print(f"[INFO] report: {markdown.write(out)}")
    if failed:
        print(f"bench reproduce: {failed} run(s) failed; the report marks them", file=sys.stderr)
    return 1 if failed else 0


def _execute(args: argparse.Namespace, out: Path, runs: list[Any], dataset: Any) -> int:
    """The runs, in this process or as Ray tasks; how many failed."""
    options = {"quick": args.quick, "force": args.force, "verbose": args.verbose}
    if args.ray is None:
        return local.run_all(out, runs, dataset, **options)
    from bench.run import ray_tasks

    slots = ray_tasks.connect(args.ray or None, args.workers)
    try:
        print(f"[INFO] Ray: {slots.where}", flush=True)
        ray_tasks.check_storage(out)
        return ray_tasks.run_all(out, runs, dataset, slots, **options)
    finally:
        ray_tasks.shutdown()


def cmd_lr_find(args: argparse.Namespace) -> int:
    """The learning-rate range test: sweep the rate, write its CSV and plot, suggest rates."""
    from bench.keras import lr_find  # lazy: TensorFlow/Keras load only once the work needs them

    tried = lr_find.rates(args.start, args.end, args.steps, args.mode)
    files.check_writable(args.out)
    model = experiments.configure("none", batch_size=args.batch_size, model=args.model)
    dataset = _load(args.dataset, args.data_dir, args.subset, args.seed)
    print(f"[INFO] sweeping the rate from {args.start:g} to {args.end:g} over {args.steps} "
          f"updates ({args.mode}), batch {model.batch_size}")  # fmt: skip
    result = lr_find.find(dataset, tried, model_args=model.model_args,
                          batch_size=model.batch_size, seed=args.seed)  # fmt: skip
    marks = lr_find.suggestions(result)
    csv_path = lr_find.write_csv(args.out / "lr_find.csv", result)
    figure = figures.finder_figure(result.rates, result.losses, result.smoothed, marks)
    plot_path = figures.save(figure, args.out / "lr_find.png")
    print(f"[INFO] {result.stopped}")
    for name, rate in marks.items():
        print(f"[INFO] suggested rate {rate:.3g} ({name}: {lr_find.MEANINGS[name]})")
    print("[INFO] no rule is robust: read the plot, and pick where the loss still falls "
          f"steadily. For a cyclic schedule: bench train -s cyclic-triangular --lr-from "
          f"{csv_path} ({lr_find.RULE})")  # fmt: skip
    print(f"[INFO] wrote {csv_path}\n[INFO] wrote {plot_path}")
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    """The post's ResNet's training speed on this backend and device, against the post's."""

    files.check_writable_file(args.out)  # before the lazy import: fails in a second
    from bench.keras import speed  # lazy: TensorFlow/Keras load only once the work needs them

    print(f"[INFO] timing {args.steps} updates of batch {args.batch_size} on Keras' "
          f"{backend.configured()} backend (after {args.steps} that compile)")  # fmt: skip
    result = speed.measure(args.steps, args.batch_size, args.model)
    print(f"[INFO] {result['ms_per_step']:.1f} ms/step, {result['images_per_second']:,.0f} "
          f"images/s on {', '.join(result['environment']['devices'])}; the post: "
          f"{result['post_ms_per_step']:g} ms/step, {result['post_images_per_second']:,.0f} "
          "images/s")  # fmt: skip
    text = json.dumps(result, indent=1) + "\n"
    files.atomic_write(args.out, lambda f: f.write(text.encode("utf-8")))
    print(f"[INFO] wrote {args.out}")
    return 0


def _rates(args: argparse.Namespace) -> tuple[dict[str, float], str | None]:
    """``train``'s --base-lr/--max-lr, or the ones --lr-from's finder CSV gives, and where
    they came from (the results file records it)."""
    given = {k: getattr(args, k) for k in ("base_lr", "max_lr") if getattr(args, k)}
    if args.lr_from is None:
        return given, "the command line (--base-lr/--max-lr)" if given else None
    if given:
        raise ValueError("--lr-from or --base-lr/--max-lr, not both")
    from bench.keras import lr_find  # lazy: TensorFlow/Keras load only once the work needs them

    found = lr_find.cyclic_range(lr_find.read_csv(args.lr_from))
    taken = experiments.TUNABLE.get(experiments.get(args.schedule).schedule_class or "", ())
    rates = {k: v for k, v in found.items() if k in taken} or found
    shown = ", ".join(f"{k} {v:.3g}" for k, v in rates.items())
    return rates, f"bench lr-find {args.lr_from}: {shown} ({lr_find.RULE})"


def cmd_report(args: argparse.Namespace) -> int:
    """Write REPORT.md (and its figures) for a results folder."""

    print(f"[INFO] report: {markdown.write(args.folder)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two results sets (before/after an upgrade, or two backends): exit 1 if
    anything regressed (backends: if they disagree)."""
    result = compare.compare(args.baseline, args.new, args.max_slowdown)
    print(compare.render(result))
    kind = "DIFFERENCE" if result.backends else "REGRESSION"
    for problem in result.problems:
        print(f"[{kind}] {text.line(problem, 400)}")
    baseline, new_set = text.line(args.baseline, 400), text.line(args.new, 400)
    if result.backends:
        old, new = result.backends
        print(f"[INFO] Keras backends {old} ({baseline}) and {new} ({new_set}): "
              f"{len(result.problems)} difference(s) beyond the report's tolerance")  # fmt: skip
    else:
        print(f"[INFO] {len(result.problems)} regression(s): {baseline} -> {new_set}")
    return 1 if result.problems else 0


def cmd_drift(args: argparse.Namespace) -> int:
    """Probe the post's Keras calls on the installed TensorFlow; merge into the drift table."""

    from bench.keras import drift  # lazy: TensorFlow/Keras load only once the work needs them

    row = drift.current_row(args.name)
    print(f"API drift on {drift.column(row)}:")
    table = [[p["use"], p["outcome"], p["effect"]] for p in row["probes"]]
    print(tabulate(table, headers=["the post's use", "outcome", "effect"]))
    if args.print_only:
        return 0
    saved, report = drift.save(row, args.rows, args.report)
    print(f"[INFO] saved {saved}; merged table: {report}")
    return 0


_QUICK = f"{experiments.QUICK_DATASET}, {experiments.QUICK_EPOCHS} epochs, a small ResNet"
# Every flag once: (names, argparse keywords). A command names the ones it takes, and may
# give one its own default and help (FLAGS_BY_COMMAND). A declarative table.
FLAGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "epochs": (("-e", "--epochs"), {"type": checks.argument("epochs"), "help": "# of epochs"}),
    "dataset": (("--dataset",), {"choices": data.DATASETS,
                                 "help": "cifar10 (the post's) or the embedded offline digits"}),
    "data_dir": (("--data-dir",), {"type": Path, "help": "CIFAR-10 archive or folder (default: "
                                   f"${data.CIFAR10_ENV}, Keras' caches, download)"}),
    "subset": (("--subset",), {"type": checks.argument("subset"), "help": "train on N images "
               "(seeded, stratified; the test set shrinks in proportion)"}),
    "batch_size": (("--batch-size",), {"type": checks.argument("batch-size")}),
    "out": (("--out",), {"type": Path}),
    "verbose": (("--verbose",), {"type": int, "choices": (0, 1, 2), "default": 1,
                                 "help": "Keras' fit verbosity (1: progress bar)"}),
    "deterministic": (("--deterministic",), {"action": "store_true", "help": "TensorFlow op "
                      "determinism on top of the seeding: bit-identical reruns"}),
    "force": (("--force",), {"action": "store_true", "help": "train again even if finished, "
              "dropping any interrupted state"}),
    "seed": (("--seed",), {"type": checks.argument("seed", minimum=0), "default": 42}),
    "base_lr": (("--base-lr",), {"type": checks.positive_rate("base-lr"),
                "help": "the cyclic schedules' lowest rate (e.g. from bench lr-find)"}),
    "max_lr": (("--max-lr",), {"type": checks.positive_rate("max-lr"),
               "help": "the cyclic schedules' and one-cycle's highest rate"}),
    "lr_from": (("--lr-from",), {"type": Path, "metavar": "CSV",
                "help": "take --base-lr/--max-lr from a bench lr-find CSV"}),
    "start": (("--start",), {"type": checks.positive_rate("start"), "default": 1e-7,
              "help": "the first rate (default 1e-7)"}),
    "end": (("--end",), {"type": checks.positive_rate("end"), "default": 10.0,
            "help": "the last rate (default 10)"}),
    "steps": (("--steps",), {"type": checks.argument("steps"), "default": 100,
              "help": "updates, one batch each (default 100)"}),
    "mode": (("--mode",), {"choices": ("exp", "linear"), "default": "exp",
             "help": "exponential (default) or linear sweep"}),
    "schedules": (("--schedules",), {"help": "comma-separated experiments, or post (the "
                  "post's five, the default), extra (the schedules beyond the post) or all"}),
    "seeds": (("--seeds",), {"type": checks.argument("seeds"), "default": 1,
              "help": "seeds per experiment: 0, 1, ... (default 1)"}),
    "quick": (("--quick",), {"action": "store_true",
              "help": f"the README's main job: {_QUICK}, on the CPU"}),
    "name": (("--name",), {"help": "the run set's name (default: from its settings)"}),
    "ray": (("--ray",), {"nargs": "?", "const": "", "metavar": "ADDRESS",
            "help": "run each run as a Ray task: on a local Ray instance (all GPUs, or "
            "--workers runs at once on the CPU), or on the cluster at ADDRESS or "
            "$RAY_ADDRESS; --out must be storage every node sees"}),
    "workers": (("--workers",), {"type": checks.argument("workers"), "help": "with --ray on "
                "a CPU-only machine: runs at once, each with its share of the cores (default "
                "1)"}),
    "backends": (("--backends",), {"metavar": "LIST", "help": "run the set on each of these "
                 "Keras 3 backends (e.g. tensorflow,jax), each into OUT/<backend>/, then "
                 "compare them in OUT/BACKENDS.md"}),
    "model": (("--model",), {"choices": ("post", "quick"), "default": "post",
              "help": "the post's ResNet, or the quick reproduction's small one"}),
}  # fmt: skip
# The data and batch flags of one run, defaulting to the post's (train and lr-find).
_ONE_RUN: dict[str, dict[str, Any]] = {
    "dataset": {"default": "cifar10"},
    "data_dir": {},
    "subset": {},
    "batch_size": {"default": experiments.BATCH_SIZE, "help": "default: the post's 128"},
}
FLAGS_BY_COMMAND: dict[str, dict[str, dict[str, Any]]] = {
    "train": {
        "epochs": {"default": experiments.EPOCHS, "help": "# of epochs to train for"},
        **_ONE_RUN,
        "out": {"default": Path("output"),
                "help": "folder for the results JSON and plots (default: output)"},
        "verbose": {}, "deterministic": {}, "force": {},
        "seed": {"help": "seed for weights, shuffling and --subset (default 42)"},
        "model": {}, "base_lr": {}, "max_lr": {}, "lr_from": {},
    },
    "lr-find": {
        "start": {}, "end": {},
        # lr_find.MIN_STEPS (a slope needs three points; test_lr_find_files holds them equal)
        "steps": {"type": checks.argument("steps", minimum=3),
                  "help": "updates, one batch each (default 100, at least 3)"},
        "mode": {},
        **_ONE_RUN,
        "out": {"default": Path("output/lr-find"),
                "help": "folder for lr_find.csv and lr_find.png (default: output/lr-find)"},
        "seed": {"help": "seed for the weights and the batch order (default 42)"},
        "model": {},
    },
    "speed": {
        "steps": {"default": 300, "help": "timed updates (default 300), after as many that "
                  "compile"},
        "batch_size": {"default": experiments.BATCH_SIZE, "help": "default: the post's 128"},
        "model": {},
        "out": {"default": Path("output/speed.json"), "help": "the figures as JSON (default: "
                "output/speed.json)"},
    },
    "reproduce": {
        "schedules": {}, "seeds": {}, "quick": {}, "name": {}, "ray": {}, "workers": {},
        "backends": {},
        "epochs": {"help": f"default: the post's 100 ({experiments.QUICK_EPOCHS} with --quick)"},
        "dataset": {"help": "default: cifar10 (digits with --quick)"},
        "data_dir": {},
        "subset": {},
        "batch_size": {"help": "default: the post's 128 (64 with --quick)"},
        "out": {"help": "results and report folder (default: reports/NAME)"},
        "verbose": {}, "deterministic": {}, "force": {},
    },
}  # fmt: skip


def _add_flags(p: argparse.ArgumentParser, command: str) -> None:
    for flag, overrides in FLAGS_BY_COMMAND[command].items():
        names, keywords = FLAGS[flag]
        p.add_argument(*names, **{**keywords, **overrides})


def _schedules_parser(commands: Any) -> None:
    p = commands.add_parser("schedules", help=cmd_schedules.__doc__)
    p.add_argument("-s", "--schedule", action="append", metavar="NAME",
                   help=f"one of {', '.join(experiments.ALL)} (repeatable; default: the "
                   "post's five)")  # fmt: skip
    p.add_argument("-e", "--epochs", type=checks.argument("epochs"), default=experiments.EPOCHS,
                   help="# of epochs")  # fmt: skip
    p.add_argument("--plot-dir", type=Path, help="also write the post's lr_*_schedule.png here")
    p.set_defaults(func=cmd_schedules)


def _train_parser(commands: Any) -> None:
    p = commands.add_parser("train", help=cmd_train.__doc__)
    # The post's four flags, with its defaults.
    p.add_argument(
        "-s",
        "--schedule",
        default="",
        help="none (the default), standard, step, "
        "linear or poly; or beyond the post: " + ", ".join(experiments.EXTRA),
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
    _add_flags(p, "train")
    p.set_defaults(func=cmd_train)  # fmt: skip


def _lr_find_parser(commands: Any) -> None:
    p = commands.add_parser("lr-find", help=cmd_lr_find.__doc__)
    _add_flags(p, "lr-find")
    p.set_defaults(func=cmd_lr_find)


def _speed_parser(commands: Any) -> None:
    p = commands.add_parser("speed", help=cmd_speed.__doc__)
    _add_flags(p, "speed")
    p.set_defaults(func=cmd_speed)


def _reproduce_parser(commands: Any) -> None:
    p = commands.add_parser("reproduce", help=cmd_reproduce.__doc__)
    _add_flags(p, "reproduce")
    p.set_defaults(func=cmd_reproduce)


def _other_parsers(commands: Any) -> None:
    p = commands.add_parser("compare", help=cmd_compare.__doc__)
    p.add_argument("baseline", type=Path, help="results folder before (e.g. reports/quick)")
    p.add_argument("new", type=Path, help="results folder after")
    p.add_argument("--max-slowdown", type=float, default=compare.MAX_SLOWDOWN,
                   help="largest accepted ms/step ratio new/baseline (default "
                   f"{compare.MAX_SLOWDOWN})")  # fmt: skip
    p.set_defaults(func=cmd_compare)

    p = commands.add_parser("drift", help=cmd_drift.__doc__)
    p.add_argument("--rows", type=Path, default=Path("reports/api-drift"),
                   help="folder of saved rows")  # fmt: skip
    p.add_argument("--report", type=Path, default=Path("reports/api-drift.md"),
                   help="the merged table")  # fmt: skip
    p.add_argument("--print-only", action="store_true", help="print this release's row only")
    p.add_argument(
        "--name",
        help="the row's file name in --rows (default: from the versions; "
        "nox -s compat passes its matrix row, so a re-run replaces its own column)",
    )
    p.set_defaults(func=cmd_drift)

    p = commands.add_parser("report", help=cmd_report.__doc__)
    p.add_argument("folder", type=Path, help="a folder written by bench reproduce")
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_schedules_parser, _train_parser, _reproduce_parser, _lr_find_parser,
                _speed_parser, _other_parsers):  # fmt: skip
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed its one line (or --help): its exit code
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with stop.handled():
            return args.func(args)
    except KeyboardInterrupt as interrupt:  # outside training: start-up, data, report, compare
        return _interrupted(args.command, None, interrupt)
    except (ValueError, OSError) as exc:
        # one line, whatever text from a file the message quotes
        print(f"bench {args.command}: error: {text.line(exc, 2000)}", file=sys.stderr)
        return 2
