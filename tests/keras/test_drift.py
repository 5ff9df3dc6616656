"""The API-drift probe (``python -m bench drift``): what each of the post's Keras calls does
on the installed release, and the merged table.

Run in every ``nox -s compat`` row, so each release is held to the expectations below,
which say explicitly where Keras 2 and Keras 3 differ.
"""

import json

import pytest
from keras_helpers import LR_HISTORY_KEY

from bench.cli import main
from bench.core import data
from bench.keras import compat, drift

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras

KERAS_3 = compat.KERAS_MAJOR >= 3
# The post's line and its pieces. Keras 2.11+'s new optimizer takes `lr` but uses its own
# default rate, and refuses `decay`; Keras 3 refuses `lr` and takes `decay` but ignores it.
EXPECTED = {
    "SGD(lr=1e-1, momentum=0.9, decay=d)": "raises",
    "SGD(lr=1e-1)": "raises" if KERAS_3 else "ignored",
    "SGD(learning_rate=1e-1, decay=d)": "ignored" if KERAS_3 else "raises",
    # Keras 3 has no legacy optimizers; Keras 2's warns that `lr` is now `learning_rate`.
    "optimizers.legacy.SGD(lr=1e-1, momentum=0.9, decay=d)": "raises" if KERAS_3 else "warns",
    "bench.keras.compat.sgd(1e-1, 0.9, d), this suite's stand-in": "works",
    "LearningRateScheduler(schedule) with schedule(epoch)": "works",
    'H.history["lr"] after LearningRateScheduler': (
        "works" if LR_HISTORY_KEY == "lr" else "raises"
    ),
    "LearningRateScheduler's logged rate": "works",
    'H.history["accuracy"]': "works",
    'H.history["val_accuracy"]': "works",
    "model.fit(x=trainX, y=trainY, validation_data=...)": "works",
    "model.predict(x=testX, batch_size=128)": "works",
    "cifar10.load_data() cache": "works",
}


@pytest.fixture(scope="module")
def probes():
    return {p.use: p for p in drift.probe_all()}


def test_every_use_of_the_post_is_probed(probes):
    assert list(probes) == list(EXPECTED)


@pytest.mark.parametrize("use", list(EXPECTED))
def test_outcome_on_this_release(probes, use):
    probe = probes[use]
    assert probe.outcome == EXPECTED[use], probe


def test_ignored_decay_is_found_by_its_effect(probes):
    """The silent failure the suite exists for: on Keras 3 the decay is accepted and the
    rate never moves, with nothing but a warning to say so."""
    probe = probes["SGD(learning_rate=1e-1, decay=d)"]
    if KERAS_3:
        assert probe.effect == "rates 0.1, 0.1, 0.1 (meant: 0.1, 0.06667, 0.05)"
        assert "decay" in probe.message
    else:
        assert probe.effect == "ValueError" and "decay" in probe.message
    assert probes["bench.keras.compat.sgd(1e-1, 0.9, d), this suite's stand-in"].effect == (
        "rates 0.1, 0.06667, 0.05"
    )


def test_logged_rate_is_float32_under_this_releases_key():
    key, _, rounded = drift.scheduler_history_value()
    assert key == LR_HISTORY_KEY
    assert rounded  # 0.1 comes back as float32(0.1) = 0.10000000149011612


def test_bench_finds_cifar10_where_this_keras_puts_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    path = drift.cifar10_download_path()
    assert path.is_relative_to(tmp_path / "datasets")
    assert path in data.keras_cache_paths() or path.parent in data.keras_cache_paths()
    assert list(tmp_path.iterdir()) == []  # nothing downloaded, nothing created


def _row(tf: str, keras: str, outcome: str, legacy: bool = False) -> dict:
    versions = {"python": "3.11.7", "tensorflow": tf, "keras": keras, "numpy": "2.0.0"}
    probe = drift.Probe("SGD(learning_rate=1e-1, decay=d)", outcome, "seen", f"{outcome} text")
    return {
        "row": drift.row_name(versions, legacy),
        "tf_keras": legacy,
        "versions": versions,
        "probes": [probe.__dict__],
    }


def test_rows_merge_into_one_column_per_release_oldest_first(tmp_path):
    rows, report = tmp_path / "rows", tmp_path / "api-drift.md"
    drift.save(_row("2.21.0", "3.15.1", "ignored"), rows, report)
    drift.save(_row("2.21.0", "2.21.0", "raises", legacy=True), rows, report)
    drift.save(_row("2.9.1", "2.9.0", "works"), rows, report)
    text = report.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| the post's use"))
    assert [c.strip() for c in header.split("|")[2:-1]] == [
        "TF 2.9.1, Keras 2.9.0",  # 2.9 before 2.21: by release, not by string
        "TF 2.21.0, Keras 3.15.1",
        "TF 2.21.0, tf-keras 2.21.0",
    ]
    row = next(line for line in text.splitlines() if line.startswith("| `SGD("))
    assert [c.strip() for c in row.split("|")[2:-1]] == [
        "**works**: seen",
        "**ignored**: seen",
        "**raises**: seen",
    ]
    assert "- `SGD(learning_rate=1e-1, decay=d)`: ignored text" in text
    assert sorted(p.name for p in rows.iterdir()) == [
        "tf-2.21.0_keras-3.15.1.json",
        "tf-2.21.0_tf-keras-2.21.0.json",
        "tf-2.9.1_keras-2.9.0.json",
    ]


def test_a_corrupt_row_is_named_and_the_table_kept(tmp_path):
    rows, report = tmp_path / "rows", tmp_path / "api-drift.md"
    drift.save(_row("2.15.1", "2.15.0", "raises"), rows, report)
    before = report.read_text()
    (rows / "broken.json").write_text('{"row": "x"')
    with pytest.raises(ValueError, match=r"broken\.json: not an API-drift row"):
        drift.save(_row("2.16.2", "3.0.5", "ignored"), rows, report)
    assert report.read_text() == before


def test_cli_prints_saves_and_merges(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        drift, "current_row", lambda name: {**_row("2.16.2", "3.0.5", "x"), "row": name}
    )
    rows, report = tmp_path / "rows", tmp_path / "api-drift.md"
    assert main(["drift", "--rows", str(rows), "--report", str(report), "--name", "2.16"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("API drift on TF 2.16.2, Keras 3.0.5:")
    assert "SGD(learning_rate=1e-1, decay=d)  x" in out
    assert out.rstrip().endswith(f"merged table: {report}")
    assert json.loads((rows / "2.16.json").read_text())["probes"][0]["outcome"] == "x"
    assert main(["drift", "--print-only", "--rows", str(tmp_path / "none")]) == 0
    assert not (tmp_path / "none").exists()
