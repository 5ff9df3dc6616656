"""pytest-benchmark timings (``nox -s bench``): a training step of the post's ResNet, the
input pipeline per epoch (the post's way next to ours), and schedule evaluation.

Speed is compared as a ratio inside one run, never against an absolute time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import compat, data, experiments
from bench.compat import keras
from bench.resnet import ResNet
from bench.schedules import PolynomialDecay, StepDecay, TimeBasedDecay

pytestmark = pytest.mark.benchmark
FEED = Path(__file__).with_name("feed.py")
FEED_IMAGES = int(os.environ.get("BENCH_FEED_IMAGES", "50000"))  # CIFAR-10's training set


def test_train_step_post_resnet_batch_128(benchmark):
    keras.utils.set_random_seed(0)
    model = ResNet.build(**experiments.MODEL_ARGS)
    model.compile(loss=experiments.LOSS, optimizer=compat.make_optimizer(experiments.get("none")))
    rng = np.random.default_rng(0)
    x = rng.random((experiments.BATCH_SIZE, 32, 32, 3), dtype=np.float32)
    y = data.one_hot(rng.integers(0, 10, experiments.BATCH_SIZE), 10)
    model.train_on_batch(x, y)  # traces and compiles
    benchmark.extra_info["images_per_step"] = experiments.BATCH_SIZE
    benchmark.pedantic(model.train_on_batch, args=(x, y), rounds=5, warmup_rounds=1)


def _feed(variant):
    proc = subprocess.run(
        [sys.executable, str(FEED), variant, str(FEED_IMAGES)],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
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
    print(f"\nfeed {FEED_IMAGES:,} images: post {post_s:.2f} s, {post['peak_rss_mb']:.0f} MB; "
          f"ours {ours_s:.2f} s, {ours['peak_rss_mb']:.0f} MB; time ratio {ours_s / post_s:.2f}, "
          f"memory ratio {ours['peak_rss_mb'] / post['peak_rss_mb']:.2f}")  # fmt: skip
    assert ours_s <= post_s
    assert ours["peak_rss_mb"] <= 0.5 * post["peak_rss_mb"]


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, 0.25, 15), PolynomialDecay(100, 0.1, 5), TimeBasedDecay(0.1, 1e-3)],
    ids=lambda s: type(s).__name__,
)
def test_schedule_evaluation_100_epochs(benchmark, schedule):
    table = benchmark(schedule.table, 100)
    assert len(table) == 100
