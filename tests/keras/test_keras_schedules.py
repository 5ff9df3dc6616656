"""Every schedule against Keras: its built-in twin where it has one, the optimizer-side
``LearningRateSchedule`` (``bench.keras_schedule``) against the per-epoch callback, and
the rates a real ``model.fit`` applies.

Tolerances: Keras evaluates its schedules in float32, so a cross-check allows rel 1e-6
(a few float32 ulps) where Keras computes a formula (inverse-time; rel 1e-5 for
polynomial and 2e-6 for exponential, whose powers multiply the rounding; abs 1.5e-8 for
the cosine, whose float32 angle is off by an ulp) and demands equality where it only
picks a stored value (piecewise-constant). Our tabulated schedule stores float32 of our
own float64 rate, so it must equal the callback's float32 rate exactly.
"""

import inspect
import itertools

import numpy as np
import pytest
from keras_helpers import AppliedRates

from bench.core import experiments
from bench.core.schedules import (
    ExponentialDecay,
    PolynomialDecay,
    StepDecay,
    TimeBasedDecay,
)
from bench.keras import compat
from bench.keras.compat import keras, ops
from bench.keras.schedule import to_keras
from bench.keras.train import ResumablePlateau, _rate_callbacks

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras

SPE = 391  # the post's updates per epoch
schedules = keras.optimizers.schedules


def _keras_rates(schedule, steps):
    return [float(np.float32(ops.convert_to_numpy(schedule(s)))) for s in steps]


def _f32(values):
    return [float(np.float32(v)) for v in values]


# --- cross-checks against Keras' built-in schedules ---


def test_step_decay_is_piecewise_constant_with_boundaries_one_epoch_early():
    post = StepDecay(initAlpha=0.1, factor=0.25, dropEvery=15)
    # The post's "1 +" moves each drop to 0-based epoch 15k - 1: the last update before it
    # is (15k - 1) * SPE - 1, which PiecewiseConstantDecay's "step <= boundary" keeps.
    boundaries = [(15 * k - 1) * SPE - 1 for k in range(1, 7)]
    values = [0.1 * 0.25**k for k in range(7)]
    twin = schedules.PiecewiseConstantDecay(boundaries, values)
    boundary_steps = [e * SPE for e in range(100)]
    assert _keras_rates(twin, boundary_steps) == _f32(post.table(100))
    # On purpose: the boundaries a reader would write from "drop every 15 epochs" differ
    # from the post's code at epochs 14, 29, ... (0-based), exactly because of the "1 +".
    naive = schedules.PiecewiseConstantDecay([15 * k * SPE - 1 for k in range(1, 7)], values)
    pairs = zip(_keras_rates(naive, boundary_steps), _f32(post.table(100)), strict=True)
    differ = [e for e, (a, b) in enumerate(pairs) if a != b]
    assert differ == [14, 29, 44, 59, 74, 89]


@pytest.mark.parametrize("power", [1, 5])
def test_polynomial_decay_is_keras_polynomial_decay_with_end_rate_0(power):
    post = PolynomialDecay(maxEpochs=100, initAlpha=0.1, power=power)
    twin = schedules.PolynomialDecay(0.1, decay_steps=100 * SPE, end_learning_rate=0.0, power=power)
    epochs = range(0, 121)  # past the end too: both hold 0
    ours = [post.rate_at(e * SPE, SPE) for e in epochs]
    # rel 1e-5: Keras rounds 1 - step / decay_steps to float32, and power 5 multiplies that
    # relative error by 5 where the base is small (1.1e-6 relative at epoch 90).
    got = _keras_rates(twin, [e * SPE for e in epochs])
    assert got == pytest.approx(ours, rel=1e-5, abs=1e-12)


def test_past_the_end_the_posts_own_formula_is_not_keras():
    """The post's (1 - e/maxEpochs) ** power goes negative past maxEpochs for odd powers
    (gradient ascent); Keras clamps the step, and so do we."""

    def posts_formula(epoch):
        return 0.1 * (1 - epoch / 100) ** 5

    assert posts_formula(110) < 0
    twin = schedules.PolynomialDecay(0.1, decay_steps=100 * SPE, end_learning_rate=0.0, power=5)
    assert _keras_rates(twin, [110 * SPE]) == [0.0]
    assert PolynomialDecay(100, 0.1, 5)(110) == 0.0


def test_time_based_decay_is_inverse_time_decay():
    decay = 0.1 / 100
    ours = TimeBasedDecay(initAlpha=0.1, decay=decay)
    twin = schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=decay)
    steps = [*range(0, 2 * SPE), *range(2 * SPE, 100 * SPE, 97)]
    assert _keras_rates(twin, steps) == pytest.approx(ours.table(steps), rel=1e-6)


def test_exponential_decay_is_keras_staircase_exponential_decay():
    ours = ExponentialDecay(initAlpha=0.1, decayRate=0.95)
    twin = schedules.ExponentialDecay(0.1, decay_steps=SPE, decay_rate=0.95, staircase=True)
    steps = [*range(0, 3 * SPE), *(e * SPE + d for e in range(3, 100) for d in (0, SPE - 1))]
    want = [ours.rate_at(s, SPE) for s in steps]
    # rel 2e-6: float32(0.95) is 1.25e-8 low, and the 99th power makes that 1.24e-6.
    assert _keras_rates(twin, steps) == pytest.approx(want, rel=2e-6)


# Keras' CosineDecay grew a linear warm-up (warmup_target, warmup_steps) in Keras 2.13.
COSINE_WARMUP = "warmup_target" in inspect.signature(schedules.CosineDecay).parameters
# Keras takes cos of a float32 angle up to pi, whose ulp (2.4e-7) moves the rate by up to
# target / 2 * 2.4e-7 = 1.2e-8 where the cosine is steep; rel 1e-6 alone fails near 0.
COS_ABS = 1.5e-8


def test_warmup_cosine_is_keras_cosine_decay():
    ours = experiments.get("cosine-warmup").schedule(100, SPE)
    # Sampled, the warm-up's last step included: Keras' CosineDecay
    # is a cond, evaluated one step at a time, slow on JAX.
    steps = [*range(0, 3 * SPE, 7), 3 * SPE - 1, *range(3 * SPE, 101 * SPE, 181)]
    if COSINE_WARMUP:
        twin = schedules.CosineDecay(
            0.0, ours.decaySteps, alpha=0.0, warmup_target=0.1, warmup_steps=ours.warmupSteps
        )
        assert _keras_rates(twin, steps) == pytest.approx(ours.table(steps), rel=1e-6, abs=COS_ABS)
    else:
        # Keras before 2.13 has no warm-up: only the decay phase has a twin, shifted.
        assert compat.KERAS_MAJOR == 2
        twin = schedules.CosineDecay(0.1, ours.decaySteps, alpha=0.0)
        decay = [s for s in steps if s >= ours.warmupSteps]
        shifted = [s - ours.warmupSteps for s in decay]
        got = _keras_rates(twin, shifted)
        assert got == pytest.approx(ours.table(decay), rel=1e-6, abs=COS_ABS)


def test_cosine_decay_warmup_support_is_known_for_this_keras():
    major, minor = (int(n) for n in compat.KERAS_VERSION.split(".")[:2])
    assert COSINE_WARMUP == ((major, minor) >= (2, 13))


# --- the optimizer-side schedule, and what model.fit applies ---

X = np.linspace(0, 1, 32, dtype="float32").reshape(8, 4)
Y = keras.utils.to_categorical(np.arange(8) % 2, 2)
BATCH, STEPS, EPOCHS = 2, 4, 5  # 8 images: 4 updates per epoch
RATED = [name for name in experiments.ALL if experiments.get(name).schedule_class]


def _fit(learning_rate, callbacks=(), epochs=EPOCHS, validation=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=compat.sgd(learning_rate, 0.9), loss="categorical_crossentropy")
    applied = AppliedRates()
    model.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        validation_data=validation,
        callbacks=[*callbacks, applied],
    )
    return applied.rates


def _schedule(name):
    """The experiment's schedule for EPOCHS x STEPS ("standard": the time-based decay)."""
    experiment = experiments.scaled(experiments.get(name), EPOCHS)
    if experiment.time_based:
        return experiment.time_decay(EPOCHS)
    return experiment.schedule(EPOCHS, STEPS)


@pytest.mark.parametrize("name", ["standard", *RATED])
def test_optimizer_schedule_equals_the_per_epoch_callback_at_every_epoch(name):
    schedule = _schedule(name)
    by_optimizer = _fit(to_keras(schedule, STEPS, EPOCHS))
    per_epoch = keras.callbacks.LearningRateScheduler(lambda e: schedule.rate_at(e * STEPS, STEPS))
    by_callback = _fit(0.1, [per_epoch])
    firsts = slice(0, None, STEPS)
    assert by_optimizer[firsts] == by_callback[firsts]


@pytest.mark.parametrize("name", RATED)
def test_fit_applies_the_schedule_at_every_update(name, tmp_path):
    """The rate of each of the 20 updates, as the suite's training hands the schedule to
    Keras (per-iteration: the optimizer's learning_rate; per-epoch: the post's callback)."""
    experiment = experiments.scaled(experiments.get(name), EPOCHS)  # step: a drop per epoch
    schedule = experiment.schedule(EPOCHS, STEPS)
    if experiment.per_iteration:
        applied = _fit(to_keras(schedule, STEPS, EPOCHS))
    else:
        applied = _fit(0.1, _rate_callbacks(experiment, schedule, tmp_path / "log.csv"))
    want = _f32(schedule.rate_at(t, STEPS) for t in range(EPOCHS * STEPS))
    assert applied == want
    assert len(set(applied)) > 1


def test_optimizer_schedule_holds_its_last_rate_past_the_end():
    schedule = experiments.get("one-cycle").schedule(EPOCHS, STEPS)
    tabulated = to_keras(schedule, STEPS, EPOCHS)
    last = EPOCHS * STEPS - 1
    assert _keras_rates(tabulated, [last, last + 1, 10 * last]) == _f32([schedule(last)] * 3)


def test_plateau_divides_the_rate_once_val_loss_stops_improving(tmp_path):
    """The plateau experiment's own callback (Keras' ReduceLROnPlateau), on a validation
    set the model cannot get better at: the rate falls by 4 after each `patience` epochs."""
    experiment = experiments.scaled(experiments.get("plateau"), 10)  # patience 1
    # Half-and-half targets, which softmax outputs only creep towards: val_loss soon
    # stops improving by ReduceLROnPlateau's min_delta.
    frozen = (X, np.full_like(Y, 0.5))
    callbacks = _rate_callbacks(experiment, None, tmp_path / "log.csv")
    applied = _fit(0.1, callbacks, epochs=4, validation=frozen)
    per_epoch = applied[::STEPS]
    assert per_epoch[0] == pytest.approx(0.1)
    assert all(b == pytest.approx(a * 0.25) or b == a for a, b in itertools.pairwise(per_epoch))
    assert per_epoch[-1] < 0.1


def _plateau_rates(log, split, resumable):
    """Per-epoch rates of 6 epochs with a val_loss that never improves (no bias, zero
    inputs: log 2 whatever the weights), as one fit or as a fit resumed after ``split``
    epochs with a new callback (as a new process would build it; the model keeps its
    optimizer, as BackupAndRestore would restore it)."""
    args = {**experiments.get("plateau").plateau, "patience": 2}
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, "softmax", use_bias=False)])
    model.compile(optimizer=compat.sgd(0.1, 0.9), loss="categorical_crossentropy")
    rates = []
    for first, last in ((0, split), (split, 6)) if split else ((0, 6),):
        applied = AppliedRates()
        plateau = (
            ResumablePlateau(log, 0.1, **args)
            if resumable
            else keras.callbacks.ReduceLROnPlateau(**args)
        )
        logger = keras.callbacks.CSVLogger(str(log), append=True)
        model.fit(
            X,
            Y,
            batch_size=BATCH,
            initial_epoch=first,
            epochs=last,
            shuffle=False,
            validation_data=(np.zeros_like(X), Y),
            verbose=0,
            callbacks=[plateau, logger, applied],
        )
        rates += applied.rates[::STEPS]
    return rates


def test_plateau_resumes_with_its_patience_count(tmp_path):
    straight = _plateau_rates(tmp_path / "straight.csv", None, resumable=True)
    assert straight == _f32([0.1, 0.1, 0.1, 0.025, 0.025, 0.00625])  # patience 2, factor 1/4
    resumed = _plateau_rates(tmp_path / "resumed.csv", 2, resumable=True)
    assert resumed == straight
    # Keras' own callback restarts its count after the resume and drops later.
    forgetful = _plateau_rates(tmp_path / "forgetful.csv", 2, resumable=False)
    assert forgetful == _f32([0.1, 0.1, 0.1, 0.1, 0.1, 0.025])
