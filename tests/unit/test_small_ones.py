"""Issue 20's small ones (class 13): ``speed --out`` an existing folder fails before it
measures; ``report .`` has a title (the resolved folder's name)."""

import sys
import types

import pytest
from results_factory import folder_of, make_run

import bench.keras
from bench.cli import main
from bench.report import markdown


@pytest.mark.parametrize("target", ["folder", "folder with a file"])
def test_speed_out_a_folder_fails_before_measuring(tmp_path, capsys, monkeypatch, target):
    never = types.SimpleNamespace(measure=lambda *a, **k: pytest.fail("measured"))
    monkeypatch.setitem(sys.modules, "bench.keras.speed", never)
    monkeypatch.setattr(bench.keras, "speed", never, raising=False)
    out = tmp_path / "speed.json"
    out.mkdir()
    if target == "folder with a file":
        (out / "x").write_text("kept")
    assert main(["speed", "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to {out}: it is a folder" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == (["x"] if target != "folder" else [])


@pytest.mark.parametrize("spelling", [".", "./", "sub/..", "./."])
def test_report_of_dot_is_titled_with_the_folders_name(tmp_path, monkeypatch, spelling):
    folder = folder_of(tmp_path / "my-set", [make_run("step", 0, 0.86)])
    (folder / "sub").mkdir()
    monkeypatch.chdir(folder)
    title = markdown.render(spelling).split("\n")[0]
    assert title == "# Reproduction report: my-set"
