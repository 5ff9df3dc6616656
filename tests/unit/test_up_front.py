"""Everything checkable is checked before the first epoch, and a refused command creates
nothing (issue 20, class 7); what changes the numbers is part of the identity (class 11)."""

import dataclasses
import importlib.util

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.cli import main
from bench.core import checks, data, experiments, identity, state

# Each bounded flag, on a command that takes it, with everything else tiny and valid.
BOUNDED = {
    "--epochs": ["train", "--dataset", "digits", "--model", "quick"],
    "--seed": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--subset-seed": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--batch-size": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--subset": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--seeds": ["reproduce", "--quick"],
    "--workers": ["reproduce", "--quick", "--ray"],
    "--steps": ["speed"],
}


def _refused(argv, tmp_path, monkeypatch, capsys, message):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing created, not even the lock


@given(flag=st.sampled_from(sorted(BOUNDED)), over=st.integers(1, 10**12))
def test_a_number_over_its_bound_is_one_line_before_anything(tmp_path_factory, flag, over):
    tmp_path = tmp_path_factory.mktemp("bound")
    name = flag.lstrip("-")
    value = checks.LIMITS[name] + over
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        code = main([*BOUNDED[flag], flag, str(value), "--out", str(tmp_path / "o")])
    assert code == 2
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", sorted(BOUNDED))
def test_each_bound_is_stated_in_help(flag, capsys):
    assert main([BOUNDED[flag][0], "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps its help lines
    assert f"(at most {checks.LIMITS[flag.lstrip('-')]:,})" in shown


@pytest.mark.parametrize("command", [
    ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    ["reproduce", "--quick"],
    ["lr-find", "--dataset", "digits", "--model", "quick"],
    ["speed"],
])  # fmt: skip
@pytest.mark.parametrize(("name", "message"), [
    ("bogus", "KERAS_BACKEND=bogus is not a Keras backend"),
    ("torch", "needs torch, which is not installed here"),
])  # fmt: skip
def test_a_backend_that_cannot_run_is_refused_up_front(command, name, message, tmp_path,
                                                       monkeypatch, capsys):  # fmt: skip
    if name == "torch" and importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here: its backend can run (the torch row checks it)")
    monkeypatch.setenv("KERAS_BACKEND", name)
    _refused(command, tmp_path, monkeypatch, capsys, message)


def _identity():
    run = experiments.Run(experiments.configure("step", quick_setup=True), 0, "digits")
    return identity.of(run, data.load_digits())


def test_tf_deterministic_ops_is_recorded_as_determinism(monkeypatch):
    monkeypatch.delenv("TF_DETERMINISTIC_OPS", raising=False)
    assert _identity().deterministic is False
    for value in ("1", "true", "TRUE"):
        monkeypatch.setenv("TF_DETERMINISTIC_OPS", value)
        assert _identity().deterministic is True


def test_a_resume_across_tf_deterministic_ops_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_DETERMINISTIC_OPS", raising=False)
    state.prepare(tmp_path / "state", _identity())
    monkeypatch.setenv("TF_DETERMINISTIC_OPS", "1")
    with pytest.raises(ValueError, match=r"other settings \(deterministic\)"):
        state.prepare(tmp_path / "state", _identity())
    assert dataclasses.replace(_identity(), deterministic=False) != _identity()
