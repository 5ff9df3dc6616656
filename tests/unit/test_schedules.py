"""The post's schedules against golden/ (derived independently) and its printed logs.

Tolerances: rel 1e-12 against the exact-rational golden tables (float64 evaluation of
the same formula differs by a few ulps at most); the printed values are compared as
strings, in Keras' progress-bar format, after the float32 rounding Keras applies.
"""

import math
import re

import numpy as np
import pytest

from bench.core import experiments
from bench.core.progbar import progbar
from bench.core.schedules import LearningRateDecay, PolynomialDecay, StepDecay, TimeBasedDecay
from bench.report import golden

REL = 1e-12
EPOCHS = experiments.EPOCHS
TABLES = golden.schedule_tables()
# golden column -> (experiment, which batch of the epoch)
COLUMNS = {
    "none": ("none", "first"),
    "standard_first_batch": ("standard", "first"),
    "standard_last_batch": ("standard", "last"),
    "step": ("step", "first"),
    "linear": ("linear", "first"),
    "poly": ("poly", "first"),
}


def test_golden_tables_cover_every_experiment_and_epoch():
    assert set(TABLES) == set(COLUMNS)
    assert all(len(column) == EPOCHS for column in TABLES.values())


@pytest.mark.parametrize("column", COLUMNS)
def test_every_epoch_matches_golden_table(column):
    name, batch = COLUMNS[column]
    ours = experiments.get(name).epoch_rates(EPOCHS, batch=batch)
    for epoch, (got, want) in enumerate(zip(ours, TABLES[column], strict=True)):
        assert got == pytest.approx(want, rel=REL), f"{column} at epoch {epoch}"


def _post_printed_rates():
    return [
        pytest.param(
            row["experiment"], row["epoch"], row["lr"], id=f"{row['experiment']}-{row['epoch']}"
        )
        for row in golden.epoch_lines()
        if row["lr"] is not None
    ]


@pytest.mark.parametrize(("name", "epoch", "printed"), _post_printed_rates())
def test_matches_every_rate_the_post_prints(name, epoch, printed):
    # The post prints 1-based "Epoch 98/100"; Keras called the schedule with 97.
    rate = experiments.get(name).schedule(EPOCHS)(epoch - 1)
    assert progbar(float(np.float32(rate))) == printed


def test_post_prints_the_float32_rate_not_the_float64_one():
    # Why the comparisons round to float32 first: the exact last linear rate, 1e-3, is not
    # above Keras' 1e-3 threshold, but float32(1e-3) is, hence the post's "0.0010".
    exact = TABLES["linear"][-1]
    assert exact == 1e-3
    assert progbar(exact) == "1.0000e-03"
    assert progbar(float(np.float32(exact))) == "0.0010"


@pytest.mark.parametrize(
    ("value", "printed"),
    [(0.099, "0.0990"), (2.44140625e-05, "2.4414e-05"), (1e-11, "1.0000e-11"), (0.0011, "0.0011")],
)
def test_progbar_format(value, printed):
    assert progbar(value) == printed


def test_step_drops_where_the_post_says():
    # The "1 +" moves every drop one epoch early: 0-based 14, 29, ... (Keras' "Epoch 15").
    s = StepDecay(initAlpha=0.1, factor=0.25, dropEvery=15)
    drops = [e for e in range(1, EPOCHS) if s(e) < s(e - 1)]
    assert drops == [14, 29, 44, 59, 74, 89]
    assert s(89) == 0.1 * 0.25**6


@pytest.mark.parametrize(("epochs", "drop_every"), [(10, 2), (40, 3), (12, 1), (100, 10)])
def test_step_at_other_set_ups_matches_the_derivation(derivation, epochs, drop_every):
    # Beyond the golden table's post set-up (dropEvery 15 over 100 epochs): the quick
    # reproduction's dropEvery 2 over 10 epochs, and others, against the exact derivation.
    schedule = StepDecay(initAlpha=0.1, factor=0.25, dropEvery=drop_every)
    want = [float(derivation.step(e, drop_every)) for e in range(epochs)]
    assert schedule.table(epochs) == pytest.approx(want, rel=REL, abs=0)


@pytest.mark.parametrize(("epochs", "power"), [(10, 1), (10, 5), (40, 2), (12, 2.5)])
def test_polynomial_at_other_set_ups_matches_the_derivation(derivation, epochs, power):
    # maxEpochs is the run's length; a non-integer power is float64 in the derivation too.
    schedule = PolynomialDecay(maxEpochs=epochs, initAlpha=0.1, power=power)
    want = [float(derivation.poly(e, power, epochs)) for e in range(epochs)]
    assert schedule.table(epochs) == pytest.approx(want, rel=REL, abs=0)


def test_defaults_are_the_posts():
    assert vars(StepDecay()) == {"initAlpha": 0.01, "factor": 0.25, "dropEvery": 10}
    assert vars(PolynomialDecay()) == {"maxEpochs": 100, "initAlpha": 0.01, "power": 1.0}


@pytest.mark.parametrize("schedule", [StepDecay(), PolynomialDecay(), TimeBasedDecay(0.1, 1e-3)])
def test_returns_python_float(schedule):
    # Keras' LearningRateScheduler requires a float; numpy scalars were a TF 2.0 bug source.
    assert type(schedule(np.int64(3))) is float


@pytest.mark.parametrize("power", [1, 2, 5, 0.5])
def test_polynomial_stays_at_zero_past_max_epochs(power):
    schedule = PolynomialDecay(maxEpochs=10, initAlpha=0.1, power=power)
    assert schedule(9) > 0
    assert [schedule(e) for e in (10, 11, 15, 1000)] == [0.0] * 4


def test_polynomial_power_zero_is_constant():
    assert PolynomialDecay(10, 0.1, 0).table(12) == [0.1] * 12


def test_time_based_decays_per_iteration():
    s = TimeBasedDecay(initAlpha=0.1, decay=1e-3)
    assert s(0) == 0.1
    assert s(1) == pytest.approx(0.1 / 1.001, rel=REL)
    assert s.epoch_table(2, 391, batch="first") == [s(0), s(391)]
    assert s.epoch_table(2, 391) == [s(390), s(781)]  # an epoch's rate: its last batch's


@pytest.mark.parametrize(
    "row", golden.time_based_examples(), ids=lambda r: f"{r['example']}-epoch{r['epoch']}"
)
def test_time_based_worked_examples(row):
    steps = experiments.steps_per_epoch(row["train_images"], row["batch_size"])
    schedule = TimeBasedDecay(initAlpha=row["init_lr"], decay=row["decay"])
    got = schedule.epoch_table(row["epoch"] + 1, steps, row["batch"])[-1]
    digits = row["sig_digits"] - 1
    assert f"{got:.{digits}e}" == f"{row['lr']:.{digits}e}"


def test_worked_example_has_782_steps():
    assert experiments.steps_per_epoch(50_000, 64) == 782


@pytest.mark.parametrize(
    ("make", "name", "allowed"),
    [
        (lambda: StepDecay(dropEvery=0), "dropEvery", "> 0"),
        (lambda: StepDecay(dropEvery=-15), "dropEvery", "> 0"),
        (lambda: StepDecay(factor=0), "factor", "(0, 1]"),
        (lambda: StepDecay(factor=1.5), "factor", "(0, 1]"),
        (lambda: StepDecay(initAlpha=0), "initAlpha", "> 0"),
        (lambda: StepDecay(initAlpha=math.nan), "initAlpha", "> 0"),
        (lambda: StepDecay(dropEvery=True), "dropEvery", "> 0"),
        (lambda: PolynomialDecay(maxEpochs=0), "maxEpochs", "> 0"),
        (lambda: PolynomialDecay(maxEpochs=-5), "maxEpochs", "> 0"),
        (lambda: PolynomialDecay(power=-1), "power", ">= 0"),
        (lambda: PolynomialDecay(initAlpha=-0.1), "initAlpha", "> 0"),
        (lambda: PolynomialDecay(initAlpha="0.1"), "initAlpha", "> 0"),
        (lambda: TimeBasedDecay(decay=-1e-3), "decay", ">= 0"),
        (lambda: StepDecay()(-1), "epoch", ">= 0"),
        (lambda: PolynomialDecay()(-1), "epoch", ">= 0"),
        (lambda: TimeBasedDecay()(-1), "iteration", ">= 0"),
        (lambda: TimeBasedDecay().epoch_table(0, 391), "epochs", "> 0"),
        (lambda: TimeBasedDecay().epoch_table(3, 391, batch="middle"), "batch", "'first'"),
    ],
)
def test_bad_parameters_raise_value_error(make, name, allowed):
    with pytest.raises(ValueError, match=rf"^{name} must be .*{re.escape(allowed)}"):
        make()


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        LearningRateDecay()(0)
