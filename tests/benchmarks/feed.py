"""One epoch of feeding N synthetic CIFAR-sized images to a trivial model, the post's way
or ours; prints seconds and peak RSS as JSON. Run in a fresh process per variant, so each
peak RSS is that variant's own:

    python tests/benchmarks/feed.py post 50000
    python tests/benchmarks/feed.py ours 50000
    python tests/benchmarks/feed.py in-graph 50000 4   (TensorFlow only; 4 epochs)
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB.

    Peak RSS is VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so
    a child of a big pytest process would report its parent's peak as its own.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _in_graph(images, labels, batch_size):
    """TensorFlow-only: the order shuffled inside tf.data by stateless_shuffle, as bench
    fed TensorFlow before Keras 3's other backends (issue 14's baseline)."""
    import tensorflow as tf

    x, y = tf.constant(images), tf.constant(labels)
    n = len(images)
    seed = tf.constant([0, 0], tf.int64)
    index = tf.data.Dataset.from_tensors(0).flat_map(
        lambda _: tf.data.Dataset.from_tensor_slices(
            tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)
        )
    )
    ds = index.batch(batch_size).map(
        lambda i: (tf.cast(tf.gather(x, i), tf.float32) / 255.0, tf.gather(y, i))
    )
    steps = -(-n // batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


def main(variant: str, n: int, epochs: int = 1) -> dict:
    import numpy as np

    from bench.core import data, experiments
    from bench.keras import compat
    from bench.keras.callbacks import EpochTimes
    from bench.keras.compat import keras
    from bench.keras.train import EpochOrder

    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss=experiments.LOSS)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)  # as CIFAR-10 loads
    labels = data.one_hot(rng.integers(0, 10, size=n), 10)
    baseline = status_mb("VmRSS")
    times = EpochTimes()
    fit = {"epochs": epochs, "verbose": 0, "shuffle": False, "callbacks": [times]}
    start = time.perf_counter()
    if variant == "post":  # train.py: trainX.astype("float") / 255.0, then fit on arrays
        x = images.astype("float") / 255.0
        model.fit(x=x, y=labels, batch_size=experiments.BATCH_SIZE, **fit)
    elif variant == "ours":
        order = EpochOrder(seed=0, images=n)  # the same shuffling a training run uses
        fit["callbacks"].append(order)
        model.fit(compat.batches(images, labels, experiments.BATCH_SIZE, order), **fit)
    elif variant == "in-graph":  # the pipeline before the backend-free order, kept to compare
        model.fit(_in_graph(images, labels, experiments.BATCH_SIZE), **fit)
    else:
        raise SystemExit(f"unknown variant {variant!r}: post, ours or in-graph")
    seconds = time.perf_counter() - start
    peak = status_mb("VmHWM")
    return {
        "variant": variant,
        "images": n,
        "seconds": seconds,
        "peak_rss_mb": peak,
        "baseline_rss_mb": baseline,
        "epoch_seconds": times.seconds,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:4]))))
