"""The markdown accuracy/throughput report of a run-set folder.

``python -m bench report DIR`` reads the run set (``bench.run.runset``) and writes
``DIR/REPORT.md`` with the figures beside it (``bench.report.figures``). ``render`` only returns the
text; ``write`` draws and saves the figures as a separate step. Every figure of the post
it compares with comes from ``golden/``; the tolerance and ranking are ``bench.report.stats``'.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.core import backend, consistency, experiments, identity, results, schedules
from bench.core.files import atomic_write
from bench.core.progbar import progbar
from bench.report import figures, golden, stats, text, verdict
from bench.run import runset

REPORT = "REPORT.md"
PROBLEM_LIMIT = 400  # an error text names a path and a field: longer than other cells
# Plain FP32 peaks (vendor datasheets, SXM/full parts), TFLOP/s; TF32 tensor cores, which
# TensorFlow uses for float32 convolutions on Ampere and later, can exceed them.
PEAK_FP32_TFLOPS = {"H200": 67.0, "H100": 67.0, "A100": 19.5, "V100": 15.7, "T4": 8.1, "L4": 30.3}
ERRATA = [
    "The post's prose says the initial learning rate was 1e-2 five times (its SGD example, "
    "'Commentary', 'How do I choose my initial learning rate?' and twice in 'Summary') and "
    "1e-1 once (the results section); its train.py and every logged rate use 1e-1. We use "
    "1e-1.",
    "Its step-decay equation image omits the floor of its code; the code (drops at 0-based "
    "epochs 14, 29, ..., 89, because of its `1 +`) is what ran and what we follow.",
    "Its text rounds two results differently from its own classification reports: 'we "
    "obtain ~85% accuracy' (no schedule; report: 0.84) and 'we only obtain 81% accuracy' "
    "(standard; report: 0.82, final val_accuracy 0.8151).",
    "Its SGD(lr=..., decay=...) no longer runs: Keras 3 rejects `lr=` and ignores `decay=` "
    "(with only a warning); Keras 2's new optimizer ignores `lr=`. bench.keras.compat builds the "
    "optimizer so that 'standard' still decays per batch.",
]


# --- numbers ---


def check_golden() -> None:
    """Read what the report takes from golden/ now: a damaged or missing golden file stops
    a command before its first epoch, not after hours of training."""
    golden.epoch_lines()
    golden.classification_reports()
    golden.post_throughput()


def _post_final() -> dict[str, dict]:
    return {r["experiment"]: r for r in golden.epoch_lines() if r["epoch"] == r["epochs"]}


def accuracy_rows(
    runs: dict[str, list[dict]], missing: Collection[str] = ()
) -> list[dict[str, Any]]:
    """One row per experiment that ran, and per experiment in ``missing`` (a run of it failed
    or is missing: "Failed or missing runs" names it), in ``experiments.ALL``'s order. An
    experiment the set never asked for has no row."""
    post = _post_final()
    rows = []
    for name in [n for n in experiments.ALL if n in runs or n in missing]:
        group = runs.get(name, [])
        row: dict[str, Any] = {"experiment": name, "post": post.get(name), "n": len(group)}
        if group:
            accs = stats.accuracies(group)
            mean, std = stats.mean_std(accs)
            row.update(mean=mean, std=std, min=min(accs), max=max(accs))
            row["val_loss"] = statistics.fmean(r["history"]["val_loss"][-1] for r in group)
            if name not in post:
                row.update(diff=None, tol=None, verdict="not in the post")
                rows.append(row)
                continue
            tol = stats.tolerance(
                post[name]["val_accuracy"], group[0]["dataset"]["test_images"], std, len(accs)
            )
            diff = mean - post[name]["val_accuracy"]
            if not all(identity.comparable_with_post(r) for r in group):
                verdict = "not comparable (not the post's set-up)"
            elif abs(diff) <= tol:
                verdict = "reproduced"
            else:
                verdict = "above the post" if diff > 0 else "below the post"
            row.update(diff=diff, tol=tol, verdict=verdict)
        rows.append(row)
    return rows


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _utilisation(run: dict, images_per_second: float) -> str:
    devices = " ".join(run["environment"].get("devices", []))
    peak = next((p for name, p in PEAK_FP32_TFLOPS.items() if name in devices), None)
    if peak is None or "GPU" not in devices:
        return "n/a (no known peak)"
    # Training costs about three forward passes (forward, and two for the backward pass).
    achieved = 3 * run["config"]["forward_flops_per_image"] * images_per_second / 1e12
    return f"{100 * achieved / peak:.1f} % of {peak:g} TFLOP/s FP32"


# --- writing ---


def _table(rows: list[list[Any]], headers: list[str]) -> str:

    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render(folder: Path) -> str:
    """The report's markdown for the run set in ``folder`` (no file is written)."""
    return _render(title(folder), runset.load_one_setup(folder))


def title(folder: Path) -> str:
    """The run set's name: its folder's, resolved (``report .`` is named too; ``/``, whose
    name is empty, by its path)."""
    resolved = Path(folder).resolve()
    return resolved.name or str(resolved)


def _render(title: str, rs: runset.RunSet) -> str:
    rows = accuracy_rows(rs.runs, {results.named_experiment(stem) for stem, _ in rs.problems})
    names = figures.report_figure_names(rs.runs)
    sections = [
        [f"# Reproduction report: {text.markdown_safe(title)}", ""],
        _summary(rows, rs),
        _setup_section(rs.runs, rs.plan),
        _accuracy_section(rows),
        _ranking_section(rs.runs),
        _class_section(rs.runs),
        _lr_section(rs.runs),
        _throughput_section(rs.runs),
        ["## Figures", "", *(f"![{f}]({f})" for f in names), ""] if names else [],
        _environment_section(rs.runs),
        ["## Errata in the post", "", *(f"- {e}" for e in ERRATA), ""],
        [
            "## Failed or missing runs",
            "",
            *(
                [
                    f"- {text.markdown_safe(r)}: {text.markdown_safe(p, PROBLEM_LIMIT)}"
                    for r, p in rs.problems
                ]
                or ["None."]
            ),
        ],
    ]
    return "\n".join(line for section in sections for line in section) + "\n"


def _setup_section(runs: dict[str, list[dict]], plan: dict | None) -> list[str]:
    all_runs = [r for group in runs.values() for r in group]
    if not all_runs:
        return ["No run finished: nothing to compare.", ""]
    config, dataset = all_runs[0]["config"], all_runs[0]["dataset"]
    model = config["model_args"]
    shape = f"ResNet stages {tuple(model['stages'])}, filters {tuple(model['filters'])}"
    lines = []
    if not all(identity.comparable_with_post(r) for r in all_runs):
        quick = " (`--quick`)" if plan and plan.get("quick") else ""
        lines += [
            f"> **Not comparable with the post's CIFAR-10 figures**{quick}: dataset "
            f"{dataset['name']}, {dataset['train_images']:,} training / "
            f"{dataset['test_images']:,} test images, {config['epochs']} epochs, batch "
            f"{config['batch_size']}, {shape}. The post's numbers are shown for orientation "
            "only; no verdict is given.",
            "",
        ]
    expected = len(plan["runs"]) if plan else len(all_runs)
    table = [
        ["dataset", f"{dataset['name']} ({text.markdown_safe(dataset['source'])})"],
        ["subset", str(dataset["subset"] or "none (all images)")],
        ["train / test images", f"{dataset['train_images']:,} / {dataset['test_images']:,}"],
        [
            "epochs, batch, steps/epoch",
            f"{config['epochs']}, {config['batch_size']}, {dataset['steps_per_epoch']}",
        ],
        [
            "model",
            f"{shape}, reg {model['reg']}, "
            f"{config['forward_flops_per_image'] / 1e9:.3f} GFLOP forward per image",
        ],
        ["optimizer", f"SGD lr {config['init_lr']}, momentum {config['momentum']}"],
        ["Keras backend", _backends(all_runs)],
        ["seeds", ", ".join(map(str, sorted({r["seed"] for r in all_runs})))],
        ["runs finished", f"{len(all_runs)} of {expected}"],
    ]
    return [*lines, _table(table, ["setting", "value"]), ""]


def _backends(runs: list[dict]) -> str:
    """Each backend with its Keras and its own version: ``jax (Keras 3.15.1, jax 0.10.2)``."""
    shown = set()
    for env in (r["environment"] for r in runs):
        name = env.get("backend", "tensorflow")  # older files: TensorFlow's
        keras, version = (text.markdown_safe(v) for v in (env["keras"], env.get(name)))
        shown.add(f"{name} (Keras {keras}, {name} {version})")
    return "; ".join(sorted(shown))


def _accuracy_section(rows: list[dict[str, Any]]) -> list[str]:
    table = []
    for r in rows:
        theirs = r["post"]
        post = [
            r["experiment"],
            *(
                ("-", "-")
                if theirs is None
                else (_pct(theirs["val_accuracy"]), f"{theirs['val_loss']:.4f}")
            ),
        ]
        if "mean" not in r:
            table.append([*post, "missing", "", "", "", "", "no run"])
            continue
        comparable_row = r["tol"] is not None and not r["verdict"].startswith("not comparable")
        table.append(
            [
                *post,
                f"{_pct(r['mean'])} ± {_pct(r['std'])} ({r['n']})",
                f"{_pct(r['min'])} - {_pct(r['max'])}",
                f"{r['val_loss']:.4f}",
                "-" if r["diff"] is None else f"{100 * r['diff']:+.2f}",
                f"± {100 * r['tol']:.2f}" if comparable_row else "-",
                r["verdict"],
            ]
        )
    headers = [
        "experiment",
        "post acc %",
        "post val_loss",
        "ours acc % (n)",
        "min - max",
        "ours val_loss",
        "diff (points)",
        "tolerance",
        "verdict",
    ]
    return [
        "## Accuracy",
        "",
        "Ours: scikit-learn's accuracy on the test set after the last epoch, mean ± std over "
        "seeds (n). The post's: its final val_accuracy and val_loss (epoch 100).",
        "",
        _table(table, headers),
        "",
        "Tolerance: 2·sqrt(s_test² + s_seed²·(1 + 1/n)), with s_test = sqrt(p(1-p)/n_test) the "
        "test set's binomial noise at the post's accuracy p and s_seed our seeds' standard "
        f"deviation ({100 * verdict.ASSUMED_SEED_STD:.1f} points assumed with one seed).",
        "",
    ]


def _rankings(runs: dict[str, list[dict]]) -> tuple[list[list[str]], list[list[str]]]:
    """Our groups (every experiment that ran) and the post's (its five), each by the
    tolerance rule of ``bench.report.stats``."""
    means = {name: statistics.fmean(stats.accuracies(group)) for name, group in runs.items()}
    ours = stats.rank_in_groups(means, lambda a, b: stats.tolerance_between(runs[a], runs[b]))
    post = {name: row["val_accuracy"] for name, row in _post_final().items()}
    return ours, stats.post_groups(post)


NOT_JUDGED = "is not judged against the post's (not the post's set-up)"
MATCH = {
    True: "matches the post's",
    False: "does not match the post's",
    None: "cannot be judged against the post's (not all of its five ran)",
}


def _ranking_section(runs: dict[str, list[dict]]) -> list[str]:
    ours, post = _rankings(runs)
    judged = all(identity.comparable_with_post(r) for group in runs.values() for r in group)
    verdict = MATCH[stats.same_groups(ours, post)] if judged else NOT_JUDGED
    return [
        "## Ranking",
        "",
        "By groups: an experiment shares its place (≈) with the best one left when their "
        "difference is within the tolerance of a difference between two sets (test-set "
        "noise and the seeds' spread, as `compare` uses); the post's ranking by the same "
        "rule, from its final val_accuracy. The experiments beyond the post join our order "
        "only.",
        "",
        f"- the post: {stats.format_ranking(post)}",
        f"- ours: {stats.format_ranking(ours) or 'none'}",
        f"- ours {verdict}",
        "",
    ]


def _summary(rows: list[dict[str, Any]], rs: runset.RunSet) -> list[str]:
    """The report's first line: how many reproduced, and whether the ranking matches."""
    if not rs.runs:
        return ["**Summary**: no run finished, so there is nothing to compare.", ""]
    if not all(identity.comparable_with_post(r) for r in rs.all_runs()):
        return ["**Summary**: not the post's set-up (see below), so no verdict is given.", ""]
    judged = [r for r in rows if r["post"] is not None and "mean" in r]
    reproduced = sum(r["verdict"] == "reproduced" for r in judged)
    ours, post = _rankings(rs.runs)
    return [
        f"**Summary**: {reproduced} of {len(experiments.EXPERIMENTS)} experiments "
        f"reproduced; the ranking {MATCH[stats.same_groups(ours, post)]} "
        f"({stats.format_ranking(post)}).",
        "",
    ]


def _class_section(runs: dict[str, list[dict]]) -> list[str]:
    post = {(r["experiment"], r["label"]): r for r in golden.classification_reports()}
    every = [run for group in runs.values() for run in group]
    if not every:
        return []
    named = [list(consistency.class_rows(r["evaluation"]["report"])) for r in every]
    classes = [k for k in named[0] if all(k in n for n in named)]
    others = sorted({k for n in named for k in n} - set(classes))
    table = []
    for cls in classes:
        row = [text.markdown_safe(cls)]
        for name in runs:
            ours = statistics.fmean(r["evaluation"]["report"][cls]["f1-score"] for r in runs[name])
            theirs = post.get((name, cls))
            row.append(f"{ours:.2f} / {theirs['f1']:.2f}" if theirs else f"{ours:.2f} / -")
        table.append(row)
    lines = ["## Per-class F1 (ours / the post's)", ""]
    if others:
        left_out = text.markdown_safe(", ".join(others))
        lines += [
            f"Left out: {left_out}, not named by every run (each run's classes are one "
            "set-up's; an edited file may rename one).",
            "",
        ]
    return [*lines, _table(table, ["class", *runs]), ""]


def _lr_section(runs: dict[str, list[dict]]) -> list[str]:
    post = {(r["experiment"], r["epoch"]): r["lr"] for r in golden.epoch_lines()}
    table = []
    for name, group in runs.items():
        lr = min(group, key=lambda r: r["seed"])["history"]["lr"]
        epochs = len(lr)
        shown = sorted({e for e in (1, 2, 3, epochs - 2, epochs - 1, epochs) if 1 <= e <= epochs})
        for e in shown:
            theirs = post.get((name, e)) if epochs == experiments.EPOCHS else None
            table.append([name, e, progbar(lr[e - 1]), theirs or "-"])
    return [
        "## Learning rate at the post's logged epochs",
        "",
        f"Ours: {schedules.EPOCH_RATE}, in Keras' progress-bar format (as `bench schedules` "
        "prints it). The post logged none for none and standard (no LearningRateScheduler).",
        "",
        _table(table, ["experiment", "epoch", "ours", "post"]),
        "",
    ]


def _throughput_section(runs: dict[str, list[dict]]) -> list[str]:
    post = [r for r in golden.epoch_lines() if r["epoch"] > 1]  # the first epoch compiles
    post_ms, post_ips = golden.post_throughput(experiments.BATCH_SIZE)
    post_s = statistics.median(r["seconds"] for r in post)
    table = [
        [
            "the post (its GPU)",
            f"{post_ms:g}",
            f"{post_ips:,.0f}",
            f"{post_s:g}",
            str(max(r["seconds"] for r in golden.epoch_lines() if r["epoch"] == 1)),
            "-",
        ]
    ]
    for name, group in runs.items():
        means = stats.mean_throughput(group)
        ms, ips, s = (means[k] for k in stats.STEADY)
        table.append(
            [
                name,
                "-" if ms is None else f"{ms:.0f}",
                "-" if ips is None else f"{ips:,.0f}",
                "-" if s is None else f"{s:.1f}",
                f"{means['first_epoch']:.1f}",
                "-" if ips is None else _utilisation(group[0], ips),
            ]
        )
    return [
        "## Throughput",
        "",
        "Medians over the epochs that did not trace and compile: epoch 1 (its own column) "
        'and the first epoch after each resume are left out, and "-" means every epoch '
        "compiled. Means over a set-up's seeds; s/epoch includes validation. The post's "
        "figures are the medians of its printed epoch lines after epoch 1 (391 steps of 128 "
        "images).",
        "",
        _table(
            table, ["run", "ms/step", "images/s", "s/epoch", "first epoch s", "FLOP utilisation"]
        ),
        "",
    ]


# A results file's CUDA and cuDNN are the ones its backend was built with, which
# TensorFlow's wheel names on a machine without a GPU too: the report labels them so.
BUILD = {"cuda": "CUDA", "cudnn": "cuDNN"}


def _build_row(env: dict[str, Any]) -> list[list[str]]:
    """``[["TensorFlow built with", "CUDA 12.5.1 / cuDNN 9"]]``, or none where the backend
    names no CUDA build."""
    parts = [f"{name} {env[key]}" for key, name in BUILD.items() if env.get(key)]
    if not parts:
        return []
    name = backend.NAMES.get(env.get("backend") or "", env.get("backend"))
    return [[f"{name} built with", text.markdown_safe(" / ".join(parts))]]


def _environment_section(runs: dict[str, list[dict]]) -> list[str]:
    all_runs = [r for g in runs.values() for r in g]
    if not all_runs:
        return []
    env = all_runs[0]["environment"]
    keys = [
        "python",
        "tensorflow",
        "keras",
        "backend",
        *(k for k in backend.OTHER_PACKAGES if any(k in r["environment"] for r in all_runs)),
        "numpy",
        *BUILD,
        "devices",
        "cpu",
        "cpu_count",
        "platform",
        "git_commit",
    ]
    table = [
        [k, text.markdown_safe(", ".join(env[k]) if isinstance(env.get(k), list) else env.get(k))]
        for k in keys
        if k not in BUILD
    ]
    at = keys.index("numpy") + 1
    table[at:at] = _build_row(env)
    checksums = sorted({r["dataset"]["sha256"] for r in all_runs})
    table.append(["dataset sha256", ", ".join(c[:16] + "…" for c in checksums)])
    table.append(["seeds", ", ".join(map(str, sorted({r["seed"] for r in all_runs})))])
    differ = [k for k in keys if any(r["environment"].get(k) != env.get(k) for r in all_runs)]
    note = [f"Runs differ in: {', '.join(differ)} (the first run's values are shown).", ""]
    return ["## Environment", "", _table(table, ["", "value"]), ""] + (note if differ else [])


def write(folder: Path) -> Path:
    """Write ``folder``'s figures, then ``folder/REPORT.md``, each file atomically. The text
    and every figure are rendered first, so a report that cannot be made writes nothing."""
    folder = Path(folder)
    rs = runset.load_one_setup(folder)
    if not rs.runs and not rs.problems:
        raise ValueError(f"{folder} holds no runs to report (no {runset.RUNS}/*.json, no plan)")
    body = _render(title(folder), rs).encode("utf-8")
    drawn = {
        name: figures.render(fig, folder / name)
        for name, fig in figures.report_figures(rs.runs).items()
    }
    for name, png in drawn.items():
        atomic_write(folder / name, lambda f, png=png: f.write(png))
    return atomic_write(folder / REPORT, lambda f: f.write(body))
