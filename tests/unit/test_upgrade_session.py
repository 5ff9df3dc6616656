"""`nox -s upgrade`'s own steps (noxfile.py): which specs it takes, how each side is built
and named, and that a report lands whole or not at all. The sessions themselves build
TensorFlow environments from the index and run on demand (docs/upgrade.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _refused(capsys, call, *args) -> str:
    with pytest.raises(SystemExit) as exit_:
        call(*args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith("nox -s upgrade: ")
    return err


@pytest.mark.parametrize(
    ("posargs", "specs", "old"),
    [
        (["tensorflow==2.21.*"], ["tensorflow==2.21.*"], None),
        (["keras==3.16.*"], ["keras==3.16.*"], None),
        (["tensorflow==2.22.*", "keras==3.16.*"], ["tensorflow==2.22.*", "keras==3.16.*"], None),
        (["tf-keras>=2.21", "jax[cpu]==0.10.*"], ["tf-keras>=2.21", "jax[cpu]==0.10.*"], None),
        (["tf-nightly"], ["tf-nightly"], None),
        (
            ["tensorflow==2.21.*", "--from", "tensorflow==2.15.*"],
            ["tensorflow==2.21.*"],
            ["tensorflow==2.15.*"],
        ),
        (
            ["Keras==3.16.*", "JAX==0.10.*", "--from", "keras==3.15.*", "jax==0.9.*"],
            ["Keras==3.16.*", "JAX==0.10.*"],
            ["keras==3.15.*", "jax==0.9.*"],
        ),
    ],
)
def test_specs_on_any_upgradable_package(noxfile, posargs, specs, old):
    assert noxfile._upgrade_args(posargs) == (specs, old)


@pytest.mark.parametrize(
    ("posargs", "says"),
    [
        ([], "give a candidate spec"),
        (["tensorflow==2.21.*", "--from"], "--from needs a spec"),
        (["numpy==2.*"], "'numpy==2.*' names numpy; a spec names one of tensorflow"),
        (["tensorflow=2.21"], "bad spec 'tensorflow=2.21'"),
        (["keras==3.16.*", "--from", "torch==2.*"], "names torch"),
        (["--from", "tensorflow==2.15.*"], "give a candidate spec"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(noxfile, capsys, posargs, says):
    assert says in _refused(capsys, noxfile._upgrade_args, posargs)


def test_each_side_gets_our_dependencies_and_its_backend(noxfile):
    ours = noxfile.PYPROJECT["project"]["dependencies"]
    assert noxfile._dependencies(["keras==3.16.*"]) == ours  # TensorFlow stays
    without = [d for d in ours if not d.startswith("tensorflow")]
    assert noxfile._dependencies(["tf-nightly"]) == without  # it brings the module itself
    assert noxfile._dependencies(["keras==3.16.*", "jax==0.10.*"]) == without
    assert noxfile._kind(["keras==3.16.*", "jax==0.10.*"]) == "jax"
    assert noxfile._kind(["keras==3.16.*", "jaxlib==0.10.*"]) == "jax"
    assert noxfile._kind(["tensorflow==2.22.*", "jax==0.10.*"]) == "tensorflow"
    assert noxfile._kind(["keras==3.16.*"]) == "tensorflow"
    assert noxfile._kind(["tensorflow==2.21.*", "tf-keras==2.21.*"]) == "tf-keras"
    # Each kind runs with its variables: tf-keras as tf.keras, JAX as Keras' backend.
    assert noxfile.KIND_ENV["tf-keras"] == {"TF_USE_LEGACY_KERAS": "1"}
    assert noxfile.KIND_ENV["jax"] == {"KERAS_BACKEND": "jax"}
    # A side's kind is its own: a JAX "from" side runs on JAX against a TensorFlow candidate.
    kinds = noxfile._kinds(["tensorflow==2.21.*"], ["keras==3.15.*", "jax==0.6.*"])
    assert kinds == {"from": "jax", "to": "tensorflow"}
    assert noxfile._kinds(["keras==3.16.*", "jax==0.10.*"], None) == {"from": "jax", "to": "jax"}
    # Without --from, the pinned row of the same kind, which is that kind.
    for kind, row in noxfile.CURRENT_ROW.items():
        assert (noxfile.CONSTRAINTS / f"{row}.txt").is_file()
        assert noxfile._kind(noxfile.ROWS[row]) == kind


def test_a_side_is_named_by_what_the_specs_name(noxfile):
    versions = dict.fromkeys(noxfile.UPGRADABLE)
    versions.update({"tensorflow": "2.21.0", "keras": "3.15.1", "jax": "0.10.2"})
    assert noxfile._label(versions, ["tensorflow"]) == "2.21.0"
    assert noxfile._label(versions, ["tf-nightly"]) == "2.21.0"
    assert noxfile._label(versions, ["keras", "jax"]) == "keras3.15.1-jax0.10.2"
    # a package the other side's specs name but this side lacks is left out of its name
    assert noxfile._label(versions, ["tensorflow", "tf-keras"]) == "tensorflow2.21.0"
    assert noxfile._title(versions) == "TensorFlow 2.21.0, Keras 3.15.1, JAX 0.10.2"


def test_this_environment_reports_its_keras(noxfile):
    found = noxfile._versions(sys.executable, "from")
    assert found["keras"] or found["tf-keras"]


@pytest.mark.integration
def test_a_side_without_keras_is_one_line_not_a_traceback(noxfile, capsys, tmp_path):
    """The old "from" side was whatever `python` the PATH had; one without TensorFlow ended
    in a CalledProcessError traceback."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path)], check=True)
    python = str(tmp_path / "bin" / "python")
    says = _refused(capsys, noxfile._versions, python, "from")
    assert "the from side has no Keras" in says


def _report(folder: Path, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / "UPGRADE.md").write_text(text)
    (folder / "from").mkdir()
    (folder / "from" / "speed-0.json").write_text("{}")


def test_a_report_replaces_the_old_one_whole(noxfile, tmp_path):
    _report(tmp_path / "staged", "new")
    _report(tmp_path / "reports" / "upgrade-a-to-b", "old")
    noxfile._publish(tmp_path / "staged", tmp_path / "reports" / "upgrade-a-to-b")
    assert (tmp_path / "reports" / "upgrade-a-to-b" / "UPGRADE.md").read_text() == "new"
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["upgrade-a-to-b"]


@pytest.mark.parametrize("interrupted_rename", [1, 2])
def test_ctrl_c_while_publishing_leaves_the_old_report_and_nothing_else(
    noxfile, tmp_path, monkeypatch, interrupted_rename
):
    _report(tmp_path / "staged", "new")
    folder = tmp_path / "reports" / "upgrade-a-to-b"
    _report(folder, "old")
    renames = []
    real = Path.rename

    def rename(self, target):
        renames.append(self)
        if len(renames) == interrupted_rename:
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        noxfile._publish(tmp_path / "staged", folder)
    monkeypatch.undo()
    assert (folder / "UPGRADE.md").read_text() == "old"
    assert (folder / "from" / "speed-0.json").is_file()
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["upgrade-a-to-b"]


# --- nox -s bisect


def _versions(noxfile, *texts):
    return [noxfile.Version(t) for t in texts]


class _Log:
    def log(self, *args):
        pass


@pytest.mark.parametrize("first", range(1, 10))
def test_bisect_names_the_first_release_that_differs(noxfile, first):
    """Ten releases, those from ``first`` on differing from the first: found, visiting the
    last and at most ceil(log2(9)) = 4 between the ends, each once."""
    versions = _versions(noxfile, *(f"2.{k}.0" for k in range(10)))
    visits = []

    def fingerprint(version):
        visits.append(version)
        return Path(str(version))

    def agrees(path):
        return versions.index(noxfile.Version(path.name)) < first

    verdicts, found = noxfile._bisect_search(_Log(), versions, fingerprint, agrees)
    assert found == versions[first]
    assert len(visits) == len(set(visits)) and len(visits) <= 1 + 4
    assert verdicts[versions[0]] and not verdicts[versions[-1]]
    assert all(verdicts[v] == (versions.index(v) < first) for v in verdicts)


def test_bisect_stops_where_the_last_release_agrees(noxfile):
    versions = _versions(noxfile, "2.15.1", "2.16.1", "2.21.0")
    verdicts, found = noxfile._bisect_search(_Log(), versions, lambda v: Path(str(v)), bool)
    assert found is None and set(verdicts) == {versions[0], versions[-1]}


@pytest.mark.parametrize(
    ("good", "bad", "says"),
    [
        ("tensorflow==2.15.*", "keras==3.15.*", "name different packages"),
        ("tensorflow==2.21.*", "tensorflow==2.15.*", "must be a later release"),
        ("tensorflow==2.99.*", "tensorflow==2.21.*", "no release of tensorflow on the index"),
        ("numpy==1.*", "numpy==2.*", "names numpy"),
    ],
)
def test_bisect_refuses_what_it_cannot_bisect(noxfile, capsys, monkeypatch, good, bad, says):
    released = _versions(noxfile, "2.15.0", "2.15.1", "2.16.1", "2.21.0")
    monkeypatch.setattr(noxfile, "_released", lambda name: released)
    monkeypatch.setattr(noxfile, "REFUSING", ["bisect"])
    with pytest.raises(SystemExit) as exit_:
        noxfile._bisect_range(good, bad)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and says in err, err
    assert err.startswith("nox -s bisect: ")


def test_bisect_takes_the_newest_release_each_spec_matches(noxfile, monkeypatch):
    released = _versions(noxfile, "2.14.0", "2.15.0", "2.15.1", "2.16.1", "2.21.0", "2.22.0")
    monkeypatch.setattr(noxfile, "_released", lambda name: released)
    name, versions = noxfile._bisect_range("tensorflow==2.15.*", "TensorFlow==2.21.*")
    assert name == "tensorflow" and [str(v) for v in versions] == ["2.15.1", "2.16.1", "2.21.0"]


def test_bisect_md_states_the_finding_each_verdict_and_what_it_cannot_see(noxfile):
    versions = _versions(noxfile, "2.15.1", "2.16.1", "2.17.0", "2.21.0")
    verdicts = {versions[0]: True, versions[1]: False, versions[-1]: False}
    text = noxfile._bisect_text("tensorflow", versions, verdicts, versions[1], "DIFFER: x", 61.0)
    lines = text.splitlines()
    assert lines[0] == "**First release that differs from 2.15.1: tensorflow 2.16.1**"
    assert "| 2.17.0 | - |" in lines and "| 2.16.1 | differs |" in lines
    assert "DIFFER: x" in text and "What it cannot see" in text and "61 s in all" in text
