"""bench.report on hand-made results folders: verdicts, ranking, marks, sections.

The results here are synthetic inputs (no training); every figure of the post the report
prints comes from golden/, which these tests also read to state what to expect.
"""

import math
import re
import statistics

import golden_rates
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_checks import accuracy_rows, table_rows
from results_factory import folder_of, make_run, retime
from tiers import examples

from bench.cli import main
from bench.core import console, data, experiments
from bench.report import figures, golden, markdown, stats
from bench.run import local, plan

POST = {r["experiment"]: r["val_accuracy"] for r in golden.epoch_lines() if r["epoch"] == 100}


def test_tolerance_formula():
    # 87 % on 10,000 images: binomial 0.336 points; one seed: 0.3 points assumed, twice.
    want = 2 * math.sqrt(0.87 * 0.13 / 10_000 + 0.003**2 * 2)
    assert stats.tolerance(0.87, 10_000, None, 1) == pytest.approx(want)
    assert 100 * want == pytest.approx(1.08, abs=0.01)
    assert stats.tolerance(0.87, 10_000, 0.001, 4) < stats.tolerance(0.87, 10_000, 0.01, 4)


def test_reproduced_and_not(tmp_path):
    runs = [make_run(n, 0, POST[n] + 0.002) for n in experiments.EXPERIMENTS]
    runs[2] = make_run("step", 0, POST["step"] - 0.05)  # far below
    text = markdown.render(folder_of(tmp_path, runs))
    rows = {r[0]: r for r in table_rows(text, "Accuracy")}
    assert rows["linear"][-1] == "reproduced"
    assert rows["step"][-1] == "below the post"
    assert rows["linear"][1] == "87.24" and rows["linear"][3] == "87.44 ± 0.00 (1)"
    assert rows["step"][6] == "-5.00"


def test_seeds_are_averaged(tmp_path):
    runs = [make_run("linear", s, a) for s, a in enumerate([0.870, 0.872, 0.874])]
    text = markdown.render(folder_of(tmp_path, runs))
    (row,) = [r for r in table_rows(text, "Accuracy") if r[0] == "linear"]
    assert row[3] == "87.20 ± 0.20 (3)" and row[4] == "87.00 - 87.40"


@pytest.mark.parametrize(
    ("accuracies", "verdict"),
    [
        ({"step": 0.87, "linear": 0.87, "poly": 0.87, "none": 0.84, "standard": 0.82}, "matches"),
        (
            {"step": 0.87, "linear": 0.83, "poly": 0.87, "none": 0.84, "standard": 0.82},
            "does not match",
        ),
    ],
)
def test_ranking(tmp_path, accuracies, verdict):
    runs = [make_run(n, 0, a) for n, a in accuracies.items()]
    text = markdown.render(folder_of(tmp_path, runs))
    assert f"- ours {verdict} the post's" in text


def test_missing_and_failed_runs_are_marked(tmp_path):
    runs = [make_run(n, 0, POST[n]) for n in ("none", "step", "linear")]
    plan = {
        "quick": False,
        "runs": [
            {"experiment": n, "seed": 0, "file": f"runs/{n}-seed0.json", "status": "ok"}
            for n in ("none", "step", "linear", "poly")
        ]
        + [
            {
                "experiment": "standard",
                "seed": 0,
                "file": "runs/standard-seed0.json",
                "status": "failed",
                "error": "RuntimeError: out of memory",
            }
        ],
    }
    folder = folder_of(tmp_path, runs, plan)
    (folder / "runs" / "linear-seed0.json").write_text("{broken")
    text = markdown.render(folder)
    failed = text.split("## Failed or missing runs")[1]
    assert "- linear-seed0: unreadable results:" in failed and "not valid JSON" in failed
    assert "- standard-seed0: failed: RuntimeError: out of memory" in failed
    assert "- poly-seed0: missing: plan says ok but no results file" in failed
    rows = {r[0]: r for r in table_rows(text, "Accuracy")}
    assert rows["poly"][3] == "missing" and rows["linear"][3] == "missing"
    assert re.search(r"\| runs finished +\| 2 of 5 +\|", text)
    assert "- ours cannot be judged against the post's (not all of its five ran)" in text


def test_lr_and_class_tables_show_the_posts_values(tmp_path):
    text = markdown.render(
        folder_of(tmp_path, [make_run("step", 0, 0.868), make_run("poly", 0, 0.865)])
    )
    lr = {(r[0], r[1]): r[2:] for r in table_rows(text, "Learning rate")}
    assert lr[("step", "100")] == ["2.4414e-05", "2.4414e-05"]
    assert lr[("poly", "99")] == ["3.2000e-10", "3.2000e-10"]
    classes = {r[0]: r for r in table_rows(text, "Per-class F1")}
    assert classes["cat"][1:] == ["0.87 / 0.74", "0.86 / 0.73"]  # each run's accuracy


LOGGED_EPOCHS = sorted({r["epoch"] for r in golden.epoch_lines()})  # 1-3 and 98-100


def test_the_lr_table_shows_each_experiments_derived_rate_and_the_posts_printed_one(tmp_path):
    """Every experiment's "ours" column is its run's last-update rate at the post's logged
    epochs, as golden/derive_schedules.py gives it (tests/golden_rates.py), in Keras'
    progress-bar format; "post" is the post's printed rate (golden/epoch_lines.csv), and
    where the post printed one the two agree."""
    names = [n for n in experiments.ALL if n != "plateau"]
    text = markdown.render(folder_of(tmp_path, [make_run(n, 0, 0.86) for n in names]))
    shown = {(r[0], int(r[1])): (r[2], r[3]) for r in table_rows(text, "Learning rate")}
    printed = {(r["experiment"], r["epoch"]): r["lr"] for r in golden.epoch_lines()}
    for name in names:
        derived = golden_rates.last_update_rates(name)
        for epoch in LOGGED_EPOCHS:
            post = printed.get((name, epoch)) or "-"
            want = golden_rates.keras_printed(derived[epoch - 1])
            assert shown[(name, epoch)] == (want, post), (name, epoch)
            assert post in ("-", want), (name, epoch)


def test_the_schedules_table_and_the_report_show_the_same_rate_for_an_epoch(tmp_path, capsys):
    """One set-up, the post's "standard" (100 epochs of 391 steps): the report shows what
    the results record, the rate applied to each epoch's last batch (here golden's
    independent derivation of it, in float32 as Keras keeps it: make_run's); ``bench
    schedules`` must print the same number for the same epoch."""
    run = make_run("standard", 0, POST["standard"])
    last = golden.schedule_tables()["standard_last_batch"]
    assert run["history"]["lr"] == [float(np.float32(rate)) for rate in last]
    text = markdown.render(folder_of(tmp_path, [run]))
    report = {int(r[1]): r[2] for r in table_rows(text, "Learning rate") if r[0] == "standard"}
    assert sorted(report) == [1, 2, 3, 98, 99, 100]
    assert report[2] == "0.0561"  # 0.1 / (1 + 0.001 * 781), epoch 2's last update
    assert main(["schedules", "-s", "standard"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[3:]]
    table = {int(epoch): rate for epoch, rate in rows}
    assert {epoch: table[epoch] for epoch in report} == report


def test_throughput_excludes_first_epoch_and_knows_h200(tmp_path):
    text = markdown.render(
        folder_of(tmp_path, [make_run("linear", 0, 0.87, device="GPU: NVIDIA H200")])
    )
    rows = {r[0]: r for r in table_rows(text, "Throughput")}
    assert rows["the post (its GPU)"][1:5] == ["86", "1,488", "34", "37"]
    # 50,000 images in 20 ms x 391 steps; 90 ms/step and validation in the first epoch
    assert rows["linear"][1:5] == ["20", "6,394", "10.0", "37.4"]
    # 3 x 0.265 GFLOP x 6,394 images/s = 5.09 TFLOP/s of 67
    assert rows["linear"][5] == "7.6 % of 67 TFLOP/s FP32"


def _resumed(run, compiled, compile_ms):
    """``run`` as if resumed before each epoch marked in ``compiled`` (epoch 1 always
    compiles): those epochs take ``compile_ms`` per step."""
    history = run["history"]
    history["compiled"] = compiled
    times = zip(compiled, history["ms_per_step"], strict=True)
    return retime(run, [compile_ms if c else ms for c, ms in times])


@settings(max_examples=examples(60), deadline=None)
@given(
    compiled=st.lists(st.booleans(), min_size=1, max_size=20).map(lambda c: [True, *c]),
    steady=st.lists(st.floats(1, 1e3), min_size=21, max_size=21),
    compile_ms=st.floats(1, 1e5),
)
def test_throughput_leaves_out_every_epoch_that_compiled(compiled, steady, compile_ms):
    run = make_run("linear", 0, 0.87, epochs=len(compiled))
    run["history"]["ms_per_step"] = steady[: len(compiled)]
    got = stats.throughput(_resumed(run, compiled, compile_ms))["ms_per_step"]
    kept = [ms for c, ms in zip(compiled, steady[: len(compiled)], strict=True) if not c]
    assert got == (statistics.median(kept) if kept else None)


def test_throughput_of_runs_whose_every_epoch_compiled_is_a_dash(tmp_path):
    run = _resumed(make_run("linear", 0, 0.87, epochs=2), [True, True], 90.0)
    rows = {r[0]: r for r in table_rows(markdown.render(folder_of(tmp_path, [run])), "Throughput")}
    assert rows["linear"][1:] == ["-", "-", "-", "37.4", "-"]


def test_a_class_not_named_by_every_run_is_left_out_saying_so(tmp_path):
    runs = [make_run("linear", 0, 0.87), make_run("linear", 1, 0.87)]
    report = runs[1]["evaluation"]["report"]
    report["toad"] = report.pop("frog")  # still ten rows whose supports add up
    text = markdown.render(folder_of(tmp_path, runs))
    rows = [r[0] for r in table_rows(text, "Per-class F1")]
    assert "frog" not in rows and "toad" not in rows and len(rows) == 9
    assert "Left out: frog, toad, not named by every run" in text


def test_not_comparable_set_up_gets_no_verdict(tmp_path):
    run = make_run("linear", 0, 0.99, epochs=12, dataset="digits")
    text = markdown.render(folder_of(tmp_path, [run]))
    assert "**Not comparable with the post's CIFAR-10 figures**" in text
    (row,) = [r for r in table_rows(text, "Accuracy") if r[0] == "linear"]
    assert row[-1] == "not comparable (not the post's set-up)" and row[-2] == "-"


def test_figures_are_written_and_linked(tmp_path):
    folder = folder_of(tmp_path, [make_run("linear", 0, 0.87), make_run("none", 0, 0.84)])
    path = markdown.write(folder)
    text = path.read_text()
    for png in ("lr_linear.png", "train_linear.png", "lr_none.png", "val_accuracy.png"):
        assert f"![{png}]({png})" in text
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in folder.glob(".*")) == []  # no temporary files left


def test_report_cli(tmp_path, capsys):
    folder = folder_of(tmp_path / "set", [make_run("linear", 0, 0.87)])
    assert main(["report", str(folder)]) == 0
    assert f"[INFO] report: {folder / 'REPORT.md'}" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no results folder at" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schedules", "step,cosine"], "unknown schedule 'cosine'"),
        (["--seeds", "0"], "seeds must be a whole number > 0, got 0"),
        (["--epochs", "0"], "epochs must be a whole number > 0, got 0"),
        (["--quick", "--subset", "99999"], "subset must be between 10"),
    ],
)
def test_reproduce_bad_input(tmp_path, capsys, args, message):
    assert main(["reproduce", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_corrupt_plan_is_a_clear_error(tmp_path, capsys):
    folder = folder_of(tmp_path, [make_run("linear", 0, 0.87)])
    (folder / "plan.json").write_text("{")
    assert main(["report", str(folder)]) == 2
    assert "plan.json: unreadable plan" in capsys.readouterr().err


def test_quick_settings_are_stated():
    quick = [experiments.configure(n, quick_setup=True) for n in experiments.EXPERIMENTS]
    assert {(e.epochs, e.batch_size) for e in quick} == {(10, 64)}
    assert quick[2].schedule().dropEvery == 2  # 15 x 10/100 = 1.5, rounded: five drops
    assert quick[0].model_args["stages"] == (1, 1, 1)
    assert experiments.MODEL_ARGS["stages"] == (9, 9, 9)  # the post's set-up is untouched


def test_reproduce_reports_a_corrupt_results_file_and_renders_the_rest(tmp_path, capsys):
    # Nothing trains here: "none" is finished already, "linear"'s file is corrupt.
    digits = data.subset(data.load_digits(), 10, seed=0)
    none = make_run("none", 0, POST["none"])  # a finished run of this very set
    none["dataset"].update(name="digits", sha256=digits.sha256)
    folder = folder_of(tmp_path, [none])
    (folder / "runs" / "linear-seed0.json").write_text('{"schema_version": 1, "history"')
    runs = plan.plan_runs(["none", "linear"], 1, "digits", None, False)
    with console.shown():  # its lines as the command line shows them
        failed = local.run_all(folder, runs, digits, quick=False)
    assert failed == 1
    out, err = capsys.readouterr()
    assert "run 1 of 2: none, seed 0: finished already" in out
    assert "linear-seed0.json: not valid JSON" in err
    assert (
        (folder / "runs" / "linear-seed0.json").read_text().startswith('{"schema_version": 1, "h')
    )
    text = markdown.write(folder).read_text()
    rows = {r[0]: r for r in table_rows(text, "Accuracy")}
    assert rows["none"][3] == "84.14 ± 0.00 (1)" and rows["linear"][3] == "missing"
    assert text.count("- linear-seed0: unreadable results:") == 1
    assert "- linear-seed0: failed:" not in text  # one line per run


def test_experiments_beyond_the_post_are_listed_after_its_five_without_a_verdict(tmp_path):
    accuracies = {"step": 0.87, "linear": 0.87, "poly": 0.87, "none": 0.84, "standard": 0.82}
    runs = [make_run(n, 0, a) for n, a in {**accuracies, "one-cycle": 0.9, "plateau": 0.8}.items()]
    text = markdown.render(folder_of(tmp_path, runs))
    rows = accuracy_rows(text)
    assert list(rows) == [*experiments.EXPERIMENTS, "one-cycle", "plateau"]
    one_cycle = rows["one-cycle"]
    assert one_cycle[1:3] == ["-", "-"] and one_cycle[-1] == "not in the post"
    assert one_cycle[3] == "90.00 ± 0.00 (1)"
    # The post's grouping is judged on its five; the extras only join the order.
    assert "- ours: one-cycle > step ≈ linear ≈ poly > none > standard > plateau" in text
    assert "- ours matches the post's" in text


def _plan(entries):
    """A plan.json asking for ``entries``: (experiment, status) pairs, seed 0 each."""
    runs = []
    for name, status in entries:
        entry = {"experiment": name, "seed": 0, "file": f"runs/{name}-seed0.json", "status": status}
        if status == "failed":
            entry["error"] = "RuntimeError: out of memory"
        runs.append(entry)
    return {"quick": False, "runs": runs}


def _failed_or_missing(text):
    """The experiments whose runs "Failed or missing runs" names ("- step-seed0: ...")."""
    section = text.split("## Failed or missing runs")[1]
    return {m[1] for m in re.finditer(r"^- (.+)-seed\d+: ", section, re.MULTILINE)}


def test_a_set_of_the_extra_schedules_lists_only_them(tmp_path):
    # reproduce --schedules extra: the post's five were never asked for, so no row says
    # they are missing while "Failed or missing runs" says none is.
    names = list(experiments.EXTRA)
    runs = [make_run(n, 0, 0.85) for n in names]
    text = markdown.render(folder_of(tmp_path, runs, _plan((n, "ok") for n in names)))
    assert list(accuracy_rows(text)) == names
    assert text.split("## Failed or missing runs")[1].strip() == "None."
    assert "- ours cannot be judged against the post's (not all of its five ran)" in text


@pytest.mark.parametrize(
    ("ran", "plan_entries", "corrupt"),
    [
        (list(experiments.EXTRA), [(n, "ok") for n in experiments.EXTRA], None),
        (["step"], [("step", "ok"), ("linear", "failed")], None),
        (["step", "one-cycle"], [("step", "ok"), ("one-cycle", "ok"), ("poly", "ok")], None),
        (["none"], None, "one-cycle"),  # no plan: a corrupt results file is all it says
        (list(experiments.EXPERIMENTS), [(n, "ok") for n in experiments.EXPERIMENTS], "step"),
    ],
)
def test_a_missing_row_is_a_failed_or_missing_run_and_back(tmp_path, ran, plan_entries, corrupt):
    runs = [make_run(n, 0, POST.get(n, 0.85)) for n in ran if n != corrupt]
    folder = folder_of(tmp_path, runs, None if plan_entries is None else _plan(plan_entries))
    if corrupt:
        (folder / "runs" / f"{corrupt}-seed0.json").write_text("{broken")
    text = markdown.render(folder)
    missing = {name for name, row in accuracy_rows(text).items() if row[3] == "missing"}
    assert missing == _failed_or_missing(text)
    assert set(accuracy_rows(text)) == {*ran, *missing}


def test_reproduce_refuses_finished_runs_of_another_set_up_before_training(tmp_path, capsys):
    # `reproduce --quick --epochs 2` then `reproduce --quick` into one folder: refused.
    digits = data.subset(data.load_digits(), 10, seed=0)
    none = make_run("none", 0, POST["none"])  # finished with 100 epochs
    none["dataset"].update(name="digits", sha256=digits.sha256)
    folder = folder_of(tmp_path, [none])
    runs = plan.plan_runs(["none", "linear"], 1, "digits", None, False, epochs=2)
    # A set is one set-up: the folder is refused as a whole (--force retrains a set-up's
    # runs, never turns the set into another set-up).
    with pytest.raises(
        ValueError,
        match=r"holds a run set of another set-up \(none-seed0.json: "
        r"epochs 100 vs 2\): use another --out",
    ):
        local.run_all(folder, runs, digits, quick=False)
    assert not (folder / "plan.json").exists() and "run 1 of 2" not in capsys.readouterr().out


def test_a_report_that_fails_writes_no_figure_beside_the_old_one(tmp_path, monkeypatch):
    folder = folder_of(tmp_path, [make_run("linear", 0, 0.87), make_run("none", 0, 0.84)])
    (folder / "REPORT.md").write_text("the old report")
    drawn = []

    def fail_on_the_third(fig, path):
        drawn.append(path)
        if len(drawn) == 3:
            raise OSError("out of memory")
        return b"png"

    monkeypatch.setattr(figures, "render", fail_on_the_third)
    with pytest.raises(OSError, match="out of memory"):
        markdown.write(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["REPORT.md", "runs"]
    assert (folder / "REPORT.md").read_text() == "the old report"


def test_the_posts_ranking_by_groups_comes_from_its_numbers():
    # Its final val_accuracy: linear 87.24, step 86.80, poly 86.51, none 84.14, standard
    # 81.51; one run each on 10,000 images: 2·sqrt(p(1-p)/10,000 + 2·0.003²) is 1.07
    # points at 87 %, so linear, step and poly share the first place.
    final = {r["experiment"]: r["val_accuracy"] for r in golden.epoch_lines() if r["epoch"] == 100}
    ranking = stats.format_ranking(stats.post_groups(final))
    assert ranking == "linear ≈ step ≈ poly > none > standard"


@pytest.mark.parametrize(
    ("accuracies", "written"),
    [
        # One seed on 10,000 images: ties within ~1.1 points, strict order beyond.
        ({"a": 0.870, "b": 0.865, "c": 0.850}, "a ≈ b > c"),
        ({"a": 0.870, "b": 0.8699, "c": 0.8698}, "a ≈ b ≈ c"),
        ({"a": 0.90, "b": 0.87, "c": 0.84}, "a > b > c"),
        # Chained closeness does not merge: b is within reach of a, c only of b.
        ({"a": 0.870, "b": 0.862, "c": 0.854}, "a ≈ b > c"),
    ],
)
def test_ranking_groups_on_hand_made_results(accuracies, written):
    runs = {n: [make_run("linear", 0, acc)] for n, acc in accuracies.items()}
    tolerance = lambda x, y: stats.tolerance_between(runs[x], runs[y])  # noqa: E731
    assert stats.format_ranking(stats.rank_in_groups(accuracies, tolerance)) == written


def test_groups_compare_as_sets_and_need_every_experiment():
    post = [["linear", "step", "poly"], ["none"], ["standard"]]
    assert stats.same_groups([["poly", "step", "linear"], ["none"], ["standard"]], post)
    assert stats.same_groups([["x"], ["step", "linear", "poly", "y"], ["none"], ["standard"]], post)
    assert not stats.same_groups([["step", "linear"], ["poly"], ["none"], ["standard"]], post)
    assert stats.same_groups([["step", "linear", "poly"], ["none"]], post) is None


def test_the_report_opens_with_one_summary_line(tmp_path):
    runs = [make_run(n, 0, POST[n] + 0.001) for n in experiments.EXPERIMENTS]
    text = markdown.render(folder_of(tmp_path / "a", runs))
    assert text.splitlines()[2] == (
        "**Summary**: 5 of 5 experiments reproduced; the ranking matches the post's "
        "(linear ≈ step ≈ poly > none > standard)."
    )
    runs[0] = make_run("none", 0, POST["none"] - 0.05)
    text = markdown.render(folder_of(tmp_path / "b", runs))
    assert text.splitlines()[2].startswith(
        "**Summary**: 4 of 5 experiments reproduced; the ranking does not match the post's"
    )
    quick = markdown.render(folder_of(tmp_path / "c", [make_run("linear", 0, 0.9, epochs=12)]))
    assert quick.splitlines()[2] == (
        "**Summary**: not the post's set-up (see below), so no verdict is given."
    )


def test_a_set_up_that_is_not_the_posts_gets_no_ranking_verdict(tmp_path):
    runs = [make_run(n, 0, a, epochs=12) for n, a in POST.items()]
    text = markdown.render(folder_of(tmp_path, runs))
    assert "- ours is not judged against the post's (not the post's set-up)" in text


def test_the_backend_and_its_version_are_in_the_set_up_and_environment(tmp_path):
    runs = [make_run(n, 0, POST[n]) for n in experiments.EXPERIMENTS]
    for run in runs:
        run["environment"].update(backend="jax", jax="0.10.2", jaxlib="0.10.2", tensorflow=None)
    text = markdown.render(folder_of(tmp_path, runs))
    assert re.search(r"\| Keras backend\s+\| jax \(Keras 3\.x, jax 0\.10\.2\)\s+\|", text), text
    env = dict(table_rows(text, "Environment"))
    assert env["backend"] == "jax" and env["jaxlib"] == "0.10.2" and env["tensorflow"] == "None"
    assert "torch" not in env


def test_cuda_and_cudnn_are_labelled_as_the_backends_build(tmp_path):
    """TensorFlow's wheel names the CUDA and cuDNN it was built with on a machine without a
    GPU too (the committed quick example's: 12.5.1 and 9, CPU only): not the machine's."""
    runs = [make_run("step", 0, POST["step"], device="CPU: /physical_device:CPU:0")]
    runs[0]["environment"].update(backend="tensorflow", cuda="12.5.1", cudnn="9")
    env = dict(table_rows(markdown.render(folder_of(tmp_path, runs)), "Environment"))
    assert env["TensorFlow built with"] == "CUDA 12.5.1 / cuDNN 9"
    assert "cuda" not in env and "cudnn" not in env
    assert env["devices"] == "CPU: /physical\\_device:CPU:0"  # the devices it ran on, alone


def test_a_backend_without_a_cuda_build_gets_no_build_row(tmp_path):
    runs = [make_run("step", 0, POST["step"])]  # cuda and cudnn None, as JAX's CPU wheel
    env = dict(table_rows(markdown.render(folder_of(tmp_path, runs)), "Environment"))
    assert not [k for k in env if "built with" in k or k in ("cuda", "cudnn")]
