"""``python -m bench`` / ``bench``: the suite's command line.

Parsing and printing only: each command is a few lines over a use-case function of
``bench.api`` (README, "Python API"), and shows the progress and notices bench logs below
it as they come (``bench.core.console``). Every command turns bad input into one line on
stderr and exit code 2, and writes each output file whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench import api
from bench.api import backends, tools
from bench.cli import upgrade_commands
from bench.core import backend, checks, console, data, experiments, schedules, stop
from bench.report import compare, fingerprints, text, verdict


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage dump is two lines; we say one.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _interrupted(command: str, interrupt: api.Interrupted) -> int:
    print(stop.message(command, interrupt.cause, interrupt.state_dir), file=sys.stderr)
    return stop.exit_code(interrupt.cause)


def _wrote(paths: Sequence[Path], replaced: Sequence[Path] = ()) -> None:
    """A line per file written; one that replaced a different file this command had not
    written (another command's, or an earlier run's) says so."""
    for path in paths:
        note = " (it replaced a different file there)" if path in replaced else ""
        print(f"[INFO] wrote {path}{note}")


def cmd_schedules(args: argparse.Namespace) -> int:
    """Print each experiment's learning rate per epoch (the rate applied to its last batch,
    in Keras' progress-bar format); plateau's starting rate and rule."""
    table = api.schedules(args.schedule, args.epochs, args.plot_dir)
    if table.names:
        print(
            f"Learning rate per epoch ({schedules.EPOCH_RATE}), {table.epochs} epochs, "
            f"batch {experiments.BATCH_SIZE}, {experiments.TRAIN_IMAGES:,} images "
            f"({table.steps} steps per epoch)"
        )
        print(tabulate(table.rows, headers=["epoch", *table.names], disable_numparse=True))
    for name, rule in table.rules.items():
        print(f"{name}: {rule}")
    _wrote(table.figures, table.replaced)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one of the post's experiments (its train.py), write results JSON and plots."""
    rates, source = _rates(args)
    try:
        done = api.train_one(
            args.schedule,
            out=args.out,
            epochs=args.epochs,
            dataset=args.dataset,
            data_dir=args.data_dir,
            subset=args.subset,
            subset_seed=args.subset_seed,
            batch_size=args.batch_size,
            seed=args.seed,
            deterministic=args.deterministic,
            force=args.force,
            verbose=args.verbose,
            model=args.model,
            rates=rates,
            lr_source=source,
            lr_plot=args.lr_plot,
            train_plot=args.train_plot,
        )
    except api.Interrupted as interrupt:
        return _interrupted("train", interrupt)
    if not done.trained:
        print(
            f"[INFO] {done.results} is finished already; --force trains it again. Its plots "
            "are drawn from its results."
        )
    _wrote(done.written, done.plots.replaced)
    return 0


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
    names = backends.parse(args.backends)
    try:
        failed = backends.reproduce(out, names, _forwarded(args, "reproduce", {"backends", "out"}))
    except api.Interrupted as interrupt:
        return _interrupted("reproduce", interrupt)
    if failed:
        print(f"bench reproduce: {failed} backend(s) failed; see their reports", file=sys.stderr)
    return 1 if failed else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the post's experiments (x seeds), then write the markdown report."""
    settings = {
        k: getattr(args, k)
        for k in (
            "seeds",
            "quick",
            "subset",
            "subset_seed",
            "epochs",
            "batch_size",
            "deterministic",
        )
    }
    if args.backends:
        runs = api.runs.planned(args.schedules, dataset=args.dataset, **settings)
        chosen = {k: getattr(args, k) for k in ("name", "quick", "seeds", "subset", "backends")}
        out = args.out or api.runs.default_out(runs, **chosen)
        return _reproduce_backends(args, out)
    try:
        done = api.reproduce(
            args.schedules,
            out=args.out,
            name=args.name,
            dataset=args.dataset,
            data_dir=args.data_dir,
            force=args.force,
            verbose=args.verbose,
            ray=args.ray,
            workers=args.workers,
            **settings,
        )
    except api.Interrupted as interrupt:
        return _interrupted("reproduce", interrupt)
    print(f"[INFO] report: {done.report}")
    if done.failed:
        print(
            f"bench reproduce: {done.failed} run(s) failed; the report marks them", file=sys.stderr
        )
    return 1 if done.failed else 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    """The learning-rate range test: sweep the rate, write its CSV and plot, suggest rates."""
    found = api.lr_find(
        out=args.out,
        start=args.start,
        end=args.end,
        steps=args.steps,
        mode=args.mode,
        dataset=args.dataset,
        data_dir=args.data_dir,
        subset=args.subset,
        subset_seed=args.subset_seed,
        batch_size=args.batch_size,
        seed=args.seed,
        model=args.model,
    )
    print(f"[INFO] {found.sweep.stopped}")
    for name, rate in found.suggestions.items():
        print(f"[INFO] suggested rate {rate:.3g} ({name}: {tools.MEANINGS[name]})")
    print(
        "[INFO] no rule is robust: read the plot, and pick where the loss still falls "
        f"steadily. For a cyclic schedule: bench train -s cyclic-triangular --lr-from "
        f"{found.csv} ({tools.RULE})"
    )
    _wrote([found.csv, found.plot], found.replaced)
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    """The post's ResNet's training speed on this backend and device, against the post's."""
    print(
        f"[INFO] timing {args.steps} updates of batch {args.batch_size} on Keras' "
        f"{backend.configured()} backend (after {args.steps} that compile)"
    )
    result = api.speed(out=args.out, steps=args.steps, batch_size=args.batch_size, model=args.model)
    print(
        f"[INFO] {result['ms_per_step']:.1f} ms/step, {result['images_per_second']:,.0f} "
        f"images/s on {', '.join(result['environment']['devices'])}; the post: "
        f"{result['post_ms_per_step']:g} ms/step, {result['post_images_per_second']:,.0f} "
        "images/s"
    )
    print(f"[INFO] wrote {args.out}")
    return 0


def _rates(args: argparse.Namespace) -> tuple[dict[str, float], str | None]:
    """``train``'s --base-lr/--max-lr, or the ones --lr-from's finder CSV gives."""
    given = {k: getattr(args, k) for k in ("base_lr", "max_lr") if getattr(args, k)}
    if args.lr_from is None:
        return given, "the command line (--base-lr/--max-lr)" if given else None
    if given:
        raise ValueError("--lr-from or --base-lr/--max-lr, not both")
    return api.rates_from(args.lr_from, args.schedule)


def cmd_report(args: argparse.Namespace) -> int:
    """Write REPORT.md (and its figures) for a results folder."""
    print(f"[INFO] report: {api.report(args.folder)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two results sets (before/after an upgrade, or two backends), or two
    training-step fingerprints: exit 1 if anything regressed (backends: if they disagree;
    fingerprints: where they first differ beyond the tolerance)."""
    kinds = [fingerprints.is_fingerprint(path) for path in (args.baseline, args.new)]
    if kinds[0] != kinds[1]:
        one = args.baseline if kinds[0] else args.new
        raise ValueError(
            f"compare a fingerprint with a fingerprint: {one} is one, the other is not"
        )
    if kinds[0]:
        result, report = fingerprints.compare_files(args.baseline, args.new)
        print(report)
        return result.verdict.exit_code
    result = api.compare(args.baseline, args.new, args.max_slowdown)
    _print_comparison(result, args.baseline, args.new)
    return result.verdict.exit_code


def _print_comparison(result: compare.Comparison, baseline: Path, new: Path) -> None:
    """Two run sets' table, then a line per statistic, difference and thing not compared."""
    print(compare.render(result))
    print(f"[INFO] statistic: {result.statistic}")
    for name, (n_old, n_new, smallest) in result.detectable.items():
        print(
            f"[INFO] {name}: with {n_old} and {n_new} seed(s), the smallest fall caught 4 "
            f"times in 5 is {100 * smallest:.2f} points"
        )
    kind = "DIFFERENCE" if result.backends else "REGRESSION"
    for problem in result.problems:
        print(f"[{kind}] {text.one_line(problem, 400)}")
    for unused in result.not_compared:
        print(f"[NOT COMPARED] {text.one_line(unused, 400)}")
    old_set, new_set = text.one_line(baseline, 400), text.one_line(new, 400)
    if result.backends:
        old, new_backend = result.backends
        print(
            f"[INFO] Keras backends {old} ({old_set}) and {new_backend} ({new_set}): "
            f"{len(result.problems)} difference(s) beyond the report's tolerance"
        )
    else:
        print(f"[INFO] {len(result.problems)} regression(s): {old_set} -> {new_set}")
    if result.not_compared:
        print(f"[INFO] {len(result.not_compared)} thing(s) not compared (see [NOT COMPARED])")


def cmd_drift(args: argparse.Namespace) -> int:
    """Probe the post's Keras calls on the installed TensorFlow; merge into the drift table."""
    row, column, saved = api.drift(args.name, args.rows, args.report, save=not args.print_only)
    print(f"API drift on {column}:")
    table = [[p["use"], p["outcome"], p["effect"]] for p in row["probes"]]
    print(tabulate(table, headers=["the post's use", "outcome", "effect"]))
    if saved is not None:
        print(f"[INFO] saved {saved[0]}; merged table: {saved[1]}")
    return 0


_QUICK = f"{experiments.QUICK_DATASET}, {experiments.QUICK_EPOCHS} epochs, a small ResNet"
# Every flag once: (names, argparse keywords). A command names the ones it takes, and may
# give one its own default and help (FLAGS_BY_COMMAND). A declarative table, one flag per
# entry as --help lists them, hand-aligned (fmt: skip) so that each reads as one row.
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
    "verbose": (("--verbose",), {"type": int, "choices": (0, 1, 2), "help": "Keras' fit "
                                 "verbosity (default: 1, a progress bar, where stdout is a "
                                 "terminal; else 2, one line per epoch)"}),
    "deterministic": (("--deterministic",), {"action": "store_true", "help": "TensorFlow op "
                      "determinism on top of the seeding: bit-identical reruns"}),
    "force": (("--force",), {"action": "store_true", "help": "train again even if finished, "
              "dropping any interrupted state"}),
    "seed": (("--seed",), {"type": checks.argument("seed", minimum=0), "default": 42}),
    "subset_seed": (("--subset-seed",), {"type": checks.argument("subset-seed", minimum=0),
                    "default": 0, "help": "seed that draws --subset, the same for every "
                    "--seed (default 0)"}),
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
    "subset_seed": {},
    "batch_size": {"default": experiments.BATCH_SIZE, "help": "default: the post's 128"},
}
# Hand-aligned (fmt: skip): one row per command, its flags' own defaults and help.
FLAGS_BY_COMMAND: dict[str, dict[str, dict[str, Any]]] = {
    "train": {
        "epochs": {"default": experiments.EPOCHS, "help": "# of epochs to train for"},
        **_ONE_RUN,
        "out": {"default": Path("output"),
                "help": "folder for the results JSON and plots (default: output)"},
        "verbose": {}, "deterministic": {}, "force": {},
        "seed": {"help": "seed for the weights and the batch order (default 42)"},
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
        "subset_seed": {},
        "batch_size": {"help": "default: the post's 128 (64 with --quick)"},
        "out": {"help": "results and report folder (default: reports/NAME)"},
        "verbose": {}, "deterministic": {}, "force": {},
    },
}  # fmt: skip


def _bounded(keywords: dict[str, Any]) -> dict[str, Any]:
    """``keywords`` with the number's upper bound (``checks.LIMITS``) said in its help."""
    limit = getattr(keywords.get("type"), "limit", None)
    if limit is None:
        return keywords
    return {**keywords, "help": f"{keywords.get('help', '')} (at most {limit:,})".lstrip()}


def _add_flags(p: argparse.ArgumentParser, command: str) -> None:
    for flag, overrides in FLAGS_BY_COMMAND[command].items():
        names, keywords = FLAGS[flag]
        p.add_argument(*names, **_bounded({**keywords, **overrides}))


def _schedules_parser(commands: Any) -> None:
    p = commands.add_parser("schedules", help=cmd_schedules.__doc__)
    p.add_argument(
        "-s",
        "--schedule",
        action="append",
        metavar="NAME",
        help=f"one of {', '.join(experiments.ALL)} (repeatable; default: the "
        "post's five; plateau: its rule, as its rate follows val_loss)",
    )
    p.add_argument(
        "-e",
        "--epochs",
        **_bounded(
            {
                "type": checks.argument("epochs"),
                "default": experiments.EPOCHS,
                "help": "# of epochs",
            }
        ),
    )
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
    p.set_defaults(func=cmd_train)


def _table_parsers(commands: Any) -> None:
    """The commands whose flags are all in FLAGS_BY_COMMAND."""
    for name, func in (
        ("reproduce", cmd_reproduce),
        ("lr-find", cmd_lr_find),
        ("speed", cmd_speed),
    ):
        p = commands.add_parser(name, help=func.__doc__)
        _add_flags(p, name)
        p.set_defaults(func=func)


def _compare_parser(commands: Any) -> None:
    p = commands.add_parser("compare", help=cmd_compare.__doc__)
    p.add_argument("baseline", type=Path, help="results folder before (e.g. reports/quick)")
    p.add_argument("new", type=Path, help="results folder after")
    p.add_argument(
        "--max-slowdown",
        type=float,
        default=verdict.MAX_SLOWDOWN,
        help="largest accepted ms/step ratio new/baseline (default "
        f"{verdict.MAX_SLOWDOWN}), judged where each side timed at least "
        f"{verdict.MIN_TIMED.steps} steps over {verdict.MIN_TIMED.epochs} epochs",
    )
    p.set_defaults(func=cmd_compare)


def _drift_parser(commands: Any) -> None:
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
        help="the row's file name in --rows (default: from the versions; "
        "nox -s compat passes its matrix row, so a re-run replaces its own column)",
    )
    p.set_defaults(func=cmd_drift)


def _report_parser(commands: Any) -> None:
    p = commands.add_parser("report", help=cmd_report.__doc__)
    p.add_argument("folder", type=Path, help="a folder written by bench reproduce")
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (
        _schedules_parser,
        _train_parser,
        _table_parsers,
        _compare_parser,
        _drift_parser,
        _report_parser,
        upgrade_commands.add_parsers,
    ):
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = argparse.Namespace(command="")  # until parsed: a signal then names no command
    try:
        # Parsing too: no moment between start-up's handlers and these.
        with console.shown(), stop.handled():
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exc:  # argparse printed its one line (or --help): its code
                return exc.code if isinstance(exc.code, int) else 2
            return args.func(args)
    except api.Interrupted as interrupt:  # while training: where its state is kept
        return _interrupted(args.command, interrupt)
    except KeyboardInterrupt as interrupt:  # outside training: start-up, data, report, compare
        print(stop.message(args.command, interrupt), file=sys.stderr)
        return stop.exit_code(interrupt)
    except (ValueError, OSError) as exc:
        # one line, whatever text from a file the message quotes
        print(f"bench {args.command}: error: {text.one_line(exc, 2000)}", file=sys.stderr)
        return 2
