"""Run the post's experiments (x seeds), one results file each, then write the report.

The folder it fills::

    OUT/plan.json          what was asked for and how each run ended (rewritten after
                           every run, atomically)
    OUT/runs/<exp>-seed<s>.json   one results file per finished run (bench.results)
    OUT/state/<exp>-seed<s>/      an unfinished run's training state, for resuming
    OUT/REPORT.md, OUT/*.png      bench.report's output

A run that raises is recorded as failed in plan.json with its error, and the others go
on; the report marks it. ``--quick`` is the README's main job: the five experiments on the
embedded digits set with a small ResNet for a few epochs (``bench.experiments.quick``).
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import data, experiments, files, results

PLAN = "plan.json"
RUNS = "runs"
STATE = "state"


def write_plan(out: Path, plan: dict[str, Any]) -> None:
    text = json.dumps(plan, indent=1) + "\n"
    files.atomic_write(out / PLAN, lambda f: f.write(text.encode("utf-8")))


def read_plan(out: Path) -> dict[str, Any] | None:
    """plan.json, or None if the folder has none; ValueError if it is unreadable."""
    path = out / PLAN
    if not path.exists():
        return None
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable plan ({exc})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("runs"), list):
        raise ValueError(f"{path}: not a plan (no list of runs)")
    return plan


def plan_experiments(
    names: list[str], quick: bool, epochs: int | None, batch_size: int | None
) -> list[experiments.Experiment]:
    """The experiments to run, as configured for this reproduction."""
    chosen = []
    for name in names:
        experiment = experiments.get(name)
        if quick:
            experiment = experiments.quick(experiment)
            if epochs is not None:
                experiment = experiments.scaled(experiment, epochs)
        elif epochs is not None:
            experiment = replace(experiment, epochs=epochs)
        if batch_size is not None:
            experiment = replace(experiment, batch_size=batch_size)
        chosen.append(experiment)
    return chosen


def run_all(
    out: Path,
    chosen: list[experiments.Experiment],
    dataset: data.Dataset,
    seeds: list[int],
    *,
    subset: int | None,
    quick: bool,
    deterministic: bool = False,
    force: bool = False,
    verbose: int = 1,
) -> int:
    """Train every (experiment, seed); return how many runs failed.

    A run whose results file is there and valid is not trained again (unless ``force``);
    an interrupted one resumes from its state in ``OUT/state/``. An unreadable results
    file counts as a failed run: it is reported, not overwritten.
    """
    from bench import train  # TensorFlow: imported once the input has been checked

    runs = [(e, seed) for e in chosen for seed in seeds]
    plan = {
        "quick": quick,
        "dataset": dataset.name,
        "subset": subset,
        "seeds": seeds,
        "experiments": [e.name for e in chosen],
        "runs": [
            {
                "experiment": e.name,
                "seed": s,
                "file": f"{RUNS}/{results.file_name(e.name, s)}",
                "status": "pending",
            }
            for e, s in runs
        ],
    }
    write_plan(out, plan)
    failed = 0
    for k, ((experiment, seed), entry) in enumerate(zip(runs, plan["runs"], strict=True), 1):
        path = out / entry["file"]
        head = f"[INFO] run {k} of {len(runs)}: {experiment.name}, seed {seed}"
        if path.exists() and not force:
            try:
                results.read(path)
                entry["status"] = "ok"
                print(f"{head}: finished already ({path}; --force trains it again)")
            except results.ResultsError as exc:
                failed += 1
                entry.update(status="failed", error=f"{exc} (delete it or use --force)")
                print(f"[ERROR] {head[7:]}: {entry['error']}", file=sys.stderr)
            write_plan(out, plan)
            continue
        print(
            f"{head}, {experiment.epochs} epochs, {len(dataset.train_y):,} {dataset.name} images",
            flush=True,
        )
        state_dir = out / STATE / path.stem
        try:
            run = train.run(
                experiment,
                dataset,
                epochs=experiment.epochs,
                seed=seed,
                batch_size=experiment.batch_size,
                state_dir=state_dir,
                subset=subset,
                deterministic=deterministic,
                force=force,
                verbose=verbose,
            )
            results.write(path, run)
            train.finish(state_dir)
            entry["status"] = "ok"
        except KeyboardInterrupt:
            entry["status"] = "interrupted"
            write_plan(out, plan)
            raise
        except Exception as exc:  # one broken run must not cost the others
            failed += 1
            entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            print(f"[ERROR] run {k} of {len(runs)} failed: {entry['error']}", file=sys.stderr)
            traceback.print_exc()
        write_plan(out, plan)
    return failed
