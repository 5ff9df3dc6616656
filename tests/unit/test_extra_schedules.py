"""The schedules beyond the post: golden tables, closed forms, bad parameters.

Golden tables come from ``golden/derive_schedules.py`` (independent of ``bench``);
``bench`` must agree at rel 1e-12 (float64 rounding; the derivation is exact where the
rate is rational). Keras cross-checks and real ``fit`` runs are in
``test_keras_schedules.py``.
"""

import math

import pytest

from bench.core import experiments
from bench.core.schedules import CyclicLR, ExponentialDecay, OneCycle, WarmupCosineDecay
from bench.report import golden

COLUMNS = {
    "exponential": "exponential",
    "cyclic-triangular": "cyclic_triangular",
    "cyclic-triangular2": "cyclic_triangular2",
    "cyclic-exp_range": "cyclic_exp_range",
    "one-cycle": "one_cycle",
    "cosine-warmup": "cosine_warmup",
}
# The small per-iteration set-up of golden/iteration_tables.csv, built with bench's classes.
SMALL = {
    "cyclic_triangular": CyclicLR(0.1, 0.5, 4, "triangular"),
    "cyclic_triangular2": CyclicLR(0.1, 0.5, 4, "triangular2"),
    "cyclic_exp_range": CyclicLR(0.1, 0.5, 4, "exp_range", gamma=0.9),
    "one_cycle": OneCycle(0.5, 40, 0.3),
    "cosine_warmup": WarmupCosineDecay(0.05, 0.5, 5, 30),
}


@pytest.mark.parametrize("name", list(COLUMNS))
def test_extra_experiment_matches_golden_table(name):
    ours = experiments.get(name).epoch_rates(batch="first")  # the table's: each first update
    theirs = golden.extra_schedule_tables()[COLUMNS[name]]
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("column", list(SMALL))
def test_every_update_matches_golden_table(column):
    theirs = golden.iteration_tables()[column]
    assert SMALL[column].table(len(theirs)) == pytest.approx(theirs, rel=1e-12)


def test_every_extra_experiment_is_tabled_or_plateau():
    assert set(COLUMNS) | {"plateau"} == set(experiments.EXTRA)
    assert set(COLUMNS.values()) == set(golden.extra_schedule_tables())


# --- closed forms, by hand ---


def test_exponential_falls_by_the_same_ratio_every_epoch():
    s = ExponentialDecay(initAlpha=0.1, decayRate=0.5)
    assert s.table(4) == [0.1, 0.05, 0.025, 0.0125]
    assert s.rate_at(7, steps_per_epoch=4) == 0.05  # per epoch: constant inside it


def test_triangular_climbs_for_step_size_updates_and_falls_back():
    s = CyclicLR(base_lr=0.1, max_lr=0.5, step_size=4)
    assert s.table(9) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert s(8 + 4) == pytest.approx(0.5)  # and again


def test_triangular2_halves_the_amplitude_every_cycle():
    s = CyclicLR(base_lr=0.1, max_lr=0.5, step_size=4, mode="triangular2")
    peaks = [s(4 + 8 * k) - 0.1 for k in range(4)]
    assert peaks == pytest.approx([0.4, 0.2, 0.1, 0.05])


def test_exp_range_scales_the_amplitude_by_gamma_per_update():
    s = CyclicLR(base_lr=0.1, max_lr=0.5, step_size=4, mode="exp_range", gamma=0.9)
    assert s(4) == pytest.approx(0.1 + 0.4 * 0.9**4)
    assert s(12) == pytest.approx(0.1 + 0.4 * 0.9**12)
    assert CyclicLR(0.1, 0.5, 4, "exp_range").table(9) == CyclicLR(0.1, 0.5, 4).table(9)


def test_one_cycle_starts_peaks_and_ends_where_pytorch_does():
    s = OneCycle(max_lr=0.5, total_steps=40, pct_start=0.3, div_factor=25, final_div_factor=1e4)
    assert s(0) == pytest.approx(0.5 / 25)
    assert s(11) == pytest.approx(0.5)  # the peak is update pct_start * total - 1
    assert s(39) == pytest.approx(0.5 / 25 / 1e4)
    assert s(100) == s(39)  # past the end: the final rate (PyTorch raises)
    rates = s.table(40)
    assert rates[:12] == sorted(rates[:12]) and rates[11:] == sorted(rates[11:], reverse=True)


def test_warmup_cosine_rises_linearly_then_follows_half_a_cosine():
    s = WarmupCosineDecay(initAlpha=0.0, warmupTarget=0.4, warmupSteps=4, decaySteps=10)
    assert s.table(5) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert s(4 + 5) == pytest.approx(0.2)  # half-way through the decay: half the target
    assert s(4 + 10) == pytest.approx(0.0, abs=1e-15) and s(100) == s(14)
    with_floor = WarmupCosineDecay(0.0, 0.4, 4, 10, alpha=0.25)
    assert with_floor(14) == pytest.approx(0.1)
    assert with_floor(7) == pytest.approx(0.1 + 0.3 * (1 + math.cos(math.pi * 0.3)) / 2)


def test_the_extra_experiments_scale_with_the_run():
    """Lengths are fractions of the run, so the quick set-up cycles as the full one does."""
    full = experiments.get("cyclic-triangular").schedule(100, 391)
    quick = experiments.get("cyclic-triangular").schedule(10, 23)
    assert (full.step_size, quick.step_size) == (1955, 12)  # 5 % of 39,100 and of 230
    warm = experiments.get("cosine-warmup").schedule(10, 23)
    assert (warm.warmupSteps, warm.decaySteps) == (12, 218)
    assert experiments.get("one-cycle").schedule(10, 23).total_steps == 230
    plateau = experiments.quick(experiments.get("plateau")).plateau
    assert plateau["patience"] == 1 and experiments.get("plateau").plateau["patience"] == 5


def test_plateau_has_no_table():
    with pytest.raises(ValueError, match=r"^plateau: the rate follows val_loss; it has no table$"):
        experiments.get("plateau").epoch_rates()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CyclicLR(0.1, 0.05), r"^max_lr must be a finite number >= base_lr \(0.1\)"),
        (lambda: CyclicLR(mode="cosine"), "^mode must be one of triangular, triangular2, exp"),
        (lambda: CyclicLR(step_size=0), "^step_size must be a finite number > 0, got 0$"),
        (lambda: CyclicLR(gamma=1.5), r"^gamma must be in \(0, 1\], got 1.5$"),
        (lambda: OneCycle(pct_start=1.0), r"^pct_start must be in \(0, 1\), got 1.0$"),
        (lambda: OneCycle(total_steps=1), "^total_steps must be a whole number >= 2, got 1$"),
        (lambda: WarmupCosineDecay(alpha=2), r"^alpha must be in \[0, 1\], got 2$"),
        (lambda: WarmupCosineDecay(decaySteps=0), "^decaySteps must be a finite number > 0"),
        (lambda: ExponentialDecay(decayRate=0), r"^decayRate must be in \(0, 1\], got 0$"),
    ],
)
def test_bad_parameters_fail_at_construction(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_names_selects_groups_and_single_experiments():
    assert experiments.names(None) == list(experiments.EXPERIMENTS)
    assert experiments.names("extra") == list(experiments.EXTRA)
    assert experiments.names("step,one-cycle,step") == ["step", "one-cycle"]
    assert experiments.names("all") == list(experiments.ALL)
    with pytest.raises(ValueError, match=r"^unknown schedule 'cyclic'"):
        experiments.names("cyclic")
