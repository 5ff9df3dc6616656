"""``bench reproduce --backends``: its argument, the command line each backend's child is
handed, and BACKENDS.md from two backends' run sets (no training here; the smoke suite
runs it for real where JAX is installed)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from results_factory import folder_of, make_run

from bench.api import backends
from bench.cli import _forwarded, build_parser, main
from bench.core import experiments


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tensorflow", "two or more different backends"),
        ("jax,jax", "two or more different backends"),
        ("tensorflow,theano", "unknown Keras backend(s) theano"),
    ],
)
def test_bad_backend_lists_are_one_line_and_exit_2(tmp_path, capsys, text, message):
    code = main(["reproduce", "--quick", "--backends", text, "--out", str(tmp_path / "o")])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("bench reproduce: error: ") and message in line
    assert not (tmp_path / "o").exists()


FLAG_VALUES = {
    "--schedules": st.sampled_from(["step", "none,step", "extra"]),
    "--seeds": st.integers(1, 5).map(str),
    "--epochs": st.integers(1, 200).map(str),
    "--subset": st.integers(10, 5000).map(str),
    "--batch-size": st.integers(1, 512).map(str),
    "--dataset": st.sampled_from(["cifar10", "digits"]),
    "--name": st.sampled_from(["a", "run set"]),
    "--verbose": st.sampled_from(["0", "1", "2"]),
    "--ray": st.sampled_from(["", "10.0.0.1:6379"]),
    "--workers": st.integers(1, 4).map(str),
}
SWITCHES = ["--quick", "--deterministic", "--force"]


@given(
    values=st.fixed_dictionaries({}, optional=FLAG_VALUES),
    switches=st.lists(st.sampled_from(SWITCHES), unique=True),
)
def test_a_child_is_handed_the_same_settings(values, switches):
    argv = [*(x for kv in values.items() for x in kv), *switches]
    parser = build_parser()
    args = parser.parse_args(["reproduce", *argv, "--backends", "tensorflow,jax", "--out", "o"])
    child = parser.parse_args(["reproduce", *_forwarded(args, "reproduce", {"backends", "out"})])
    theirs, ours = vars(child), vars(args)
    assert {k: v for k, v in theirs.items() if k not in ("backends", "out")} == {
        k: v for k, v in ours.items() if k not in ("backends", "out")
    }
    assert child.backends is None and child.out is None


def _set(path, backend, accuracy=0.0):
    runs = []
    for name in experiments.EXPERIMENTS:
        run = make_run(name, 0, 0.87 + accuracy)
        run["environment"]["backend"] = backend
        runs.append(run)
    return folder_of(path, runs)


def test_backends_md_puts_each_backend_against_the_first(tmp_path):
    _set(tmp_path / "tensorflow", "tensorflow")
    _set(tmp_path / "jax", "jax")
    _set(tmp_path / "torch", "torch", accuracy=-0.05)
    text = backends.write(tmp_path, ["tensorflow", "jax", "torch"]).read_text()
    assert "## jax against tensorflow: agree" in text
    assert "## torch against tensorflow: DIFFER" in text
    assert "[jax](jax/REPORT.md)" in text
    assert "tensorflow val_loss" in text and "jax val_loss" in text and "torch val_loss" in text
    named = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(named) == len(experiments.EXPERIMENTS)
    assert all("accuracy fell 5.00 points" in line for line in named)
