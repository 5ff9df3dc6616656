"""bench.train's input pipeline: uint8 in, float32 [0, 1] batches out, in a resumable order."""

import numpy as np


def test_batches_scale_and_keep_labels():
    from bench.train import batches

    x = np.arange(5 * 32 * 32 * 3).reshape(5, 32, 32, 3).astype(np.uint8)
    y = np.eye(5, dtype=np.float32)
    plain = list(batches(x, y, 2).as_numpy_iterator())
    assert [b[0].shape[0] for b in plain] == [2, 2, 1]
    assert plain[0][0].dtype == np.float32
    np.testing.assert_allclose(plain[0][0], x[:2] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(plain[2][1], y[4:])


def test_epoch_order_is_a_function_of_seed_and_epoch():
    # What makes a resumed run see the batches an uninterrupted one would.
    from bench.train import EpochOrder, batches

    x = np.repeat(np.arange(20, dtype=np.uint8), 32 * 32 * 3).reshape(20, 32, 32, 3)
    y = np.eye(20, dtype=np.float32)

    def epoch(order, e):
        order.on_epoch_begin(e)
        return np.concatenate(
            [b[1].argmax(axis=1) for b in batches(x, y, 8, order).as_numpy_iterator()]
        )

    first, again = EpochOrder(seed=3), EpochOrder(seed=3)
    e0, e1 = epoch(first, 0), epoch(first, 1)
    assert sorted(e0) == list(range(20)) and not np.array_equal(e0, e1)
    np.testing.assert_array_equal(epoch(again, 1), e1)  # a fresh start at epoch 1: same order
    assert not np.array_equal(epoch(EpochOrder(seed=4), 1), e1)
