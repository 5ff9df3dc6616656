"""pytest-benchmark timings (``nox -s bench``): a training step of the post's ResNet, the
input pipeline per epoch (the post's way next to ours), and schedule evaluation.

Speed is compared as a ratio inside one run, never against an absolute time.
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core import data, experiments
from bench.core.schedules import PolynomialDecay, StepDecay, TimeBasedDecay
from bench.keras import compat, schedule
from bench.keras.compat import keras
from bench.keras.resnet import ResNet

pytestmark = pytest.mark.benchmark
FEED = Path(__file__).with_name("feed.py")
FEED_IMAGES = int(os.environ.get("BENCH_FEED_IMAGES", "50000"))  # CIFAR-10's training set


def test_train_step_post_resnet_batch_128(benchmark):
    keras.utils.set_random_seed(0)
    model = ResNet.build(**experiments.MODEL_ARGS)
    model.compile(loss=experiments.LOSS, optimizer=schedule.optimizer(experiments.get("none")))
    rng = np.random.default_rng(0)
    x = rng.random((experiments.BATCH_SIZE, 32, 32, 3), dtype=np.float32)
    y = data.one_hot(rng.integers(0, 10, experiments.BATCH_SIZE), 10)
    model.train_on_batch(x, y)  # traces and compiles
    benchmark.extra_info["images_per_step"] = experiments.BATCH_SIZE
    benchmark.pedantic(model.train_on_batch, args=(x, y), rounds=5, warmup_rounds=1)


def _feed(variant, epochs=1):
    proc = subprocess.run(
        [sys.executable, str(FEED), variant, str(FEED_IMAGES), str(epochs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("variant", ["post", "ours"])
def test_input_pipeline_epoch(benchmark, variant):
    # One epoch of fit on a trivial model, each round in a fresh process.
    result = benchmark.pedantic(_feed, args=(variant,), rounds=2)
    benchmark.extra_info.update(result)


def test_ours_is_not_slower_and_uses_half_the_memory():
    # Same run, same machine, alternating: the post's float64 arrays against our uint8
    # tf.data pipeline on a CIFAR-sized synthetic set. Peak RSS is each process's own.
    post, ours = _feed("post"), _feed("ours")
    post2, ours2 = _feed("post"), _feed("ours")
    post_s, ours_s = min(post["seconds"], post2["seconds"]), min(ours["seconds"], ours2["seconds"])
    print(
        f"\nfeed {FEED_IMAGES:,} images: post {post_s:.2f} s, {post['peak_rss_mb']:.0f} MB; "
        f"ours {ours_s:.2f} s, {ours['peak_rss_mb']:.0f} MB; time ratio {ours_s / post_s:.2f}, "
        f"memory ratio {ours['peak_rss_mb'] / post['peak_rss_mb']:.2f}"
    )
    assert ours_s <= post_s
    assert ours["peak_rss_mb"] <= 0.5 * post["peak_rss_mb"]


def test_the_backend_free_order_costs_tensorflow_nothing():
    # Issue 14: the order as numpy's (seed, epoch) permutation fed into tf.data, against the
    # order shuffled inside tf.data before: time ratio <= 1.05, peak memory no larger. An
    # epoch of feeding takes about half a second, single epochs vary by 20 % here and the
    # machine drifts within minutes, so: seven pairs of processes, one of each side by side,
    # five epochs each; a pair's ratio is of its two fastest epochs after the first, and
    # the median of the seven ratios counts.
    if compat.BACKEND != "tensorflow":
        pytest.skip(f"tf.data is TensorFlow's pipeline; Keras runs {compat.BACKEND} here")
    pairs = [(_feed("in-graph", epochs=5), _feed("ours", epochs=5)) for _ in range(7)]

    def fastest(run):
        return min(run["epoch_seconds"][1:])

    ratio = statistics.median(fastest(new) / fastest(old) for old, new in pairs)
    old_mb = max(old["peak_rss_mb"] for old, _ in pairs)
    new_mb = max(new["peak_rss_mb"] for _, new in pairs)
    print(
        f"\nfeed {FEED_IMAGES:,} images, 7 pairs: numpy order / in-graph order, median time "
        f"ratio {ratio:.3f}; peak {new_mb:.0f} MB against {old_mb:.0f} MB"
    )
    assert ratio <= 1.05
    assert new_mb <= old_mb * 1.01  # the same arrays; 1 % for the allocator's noise


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, 0.25, 15), PolynomialDecay(100, 0.1, 5), TimeBasedDecay(0.1, 1e-3)],
    ids=lambda s: type(s).__name__,
)
def test_schedule_evaluation_100_epochs(benchmark, schedule):
    table = benchmark(schedule.table, 100)
    assert len(table) == 100


class PerBatchRate(keras.callbacks.Callback):
    """What EpochLog used to do: the optimizer's rate read on the host before every batch."""

    def on_train_batch_begin(self, batch, logs=None):
        self.rate = compat.applied_lr(self.model.optimizer)


def _epoch_seconds(tmp_path, per_batch: bool) -> float:
    """One training epoch (with validation) of the quick ResNet: 2,048 images, batch 128."""
    import time

    from bench.keras.train import EpochLog

    keras.utils.set_random_seed(0)
    model = ResNet.build(**experiments.QUICK_MODEL_ARGS)
    model.compile(loss=experiments.LOSS, optimizer=schedule.optimizer(experiments.get("step")))
    rng = np.random.default_rng(0)
    x = rng.random((2048, 32, 32, 3), dtype=np.float32)
    y = data.one_hot(rng.integers(0, 10, 2048), 10)
    log = EpochLog(tmp_path / f"log-{per_batch}-{time.perf_counter_ns()}.csv", 2048)
    callbacks = [log, PerBatchRate()] if per_batch else [log]
    fit = {"batch_size": 128, "verbose": 0, "validation_data": (x[:256], y[:256])}
    model.fit(x, y, epochs=1, callbacks=callbacks, **fit)  # traces and compiles
    start = time.perf_counter()
    model.fit(x, y, epochs=2, initial_epoch=1, callbacks=callbacks, **fit)
    return time.perf_counter() - start


def test_no_per_batch_host_reads(tmp_path):
    # Alternating, best of three each: the per-epoch reads against per-batch ones.
    rounds = [(_epoch_seconds(tmp_path, True), _epoch_seconds(tmp_path, False)) for _ in range(3)]
    per_batch, per_epoch = (min(r[i] for r in rounds) for i in (0, 1))
    print(
        f"\ntraining epoch, quick ResNet, 16 steps: per-batch rate reads {per_batch:.3f} s, "
        f"per-epoch {per_epoch:.3f} s, ratio {per_epoch / per_batch:.3f}"
    )
    assert per_epoch <= 1.1 * per_batch


def _reproduce(out, *extra):
    import time

    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "reproduce",
            "--quick",
            "--deterministic",
            "--verbose",
            "0",
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return time.perf_counter() - start


def test_quick_reproduction_in_process_vs_ray_two_workers(tmp_path):
    pytest.importorskip("ray")
    in_process = _reproduce(tmp_path / "in-process")
    fanned = _reproduce(tmp_path / "ray", "--ray", "--workers", "2")
    print(
        f"\nquick reproduction (5 runs x 10 epochs): in-process {in_process:.0f} s, "
        f"--ray --workers 2 {fanned:.0f} s, ratio {fanned / in_process:.2f}"
    )
    for name in experiments.EXPERIMENTS:
        rates = [
            json.loads((tmp_path / where / "runs" / f"{name}-seed0.json").read_text())["history"][
                "lr"
            ]
            for where in ("in-process", "ray")
        ]
        assert rates[0] == rates[1], name


def test_fingerprint_the_post_five_set_ups(benchmark, tmp_path):
    """`bench fingerprint` as a user runs it (a fresh process: imports, TensorFlow's start,
    the five bursts of 100 updates), timed by pytest-benchmark; the issue's budget is a
    minute on 2 cores, reported here, not asserted."""
    out = tmp_path / "fp.json"
    command = [sys.executable, "-m", "bench", "fingerprint", "--out", str(out)]
    benchmark.pedantic(subprocess.run, args=(command,), kwargs={"check": True}, rounds=1)
    assert json.loads(out.read_text())["setups"]
