"""``bench reproduce`` end to end on the CPU at a tiny scale: the GPU suite's code path."""

import pytest
from report_checks import check_report

from bench import experiments
from bench.cli import main

pytestmark = pytest.mark.smoke


def test_quick_reproduction_writes_a_complete_report(tmp_path, capsys):
    # The quick set-up (small ResNet), 1 epoch on 40 images: every step of `--quick`.
    code = main(["reproduce", "--quick", "--epochs", "1", "--subset", "40", "--verbose", "0",
                 "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    names = list(experiments.EXPERIMENTS)
    for k, name in enumerate(names, 1):
        assert f"[INFO] run {k} of 5: {name}, seed 0, 1 epochs, 40 digits images" in out
    assert out.rstrip().endswith(f"[INFO] report: {tmp_path / 'REPORT.md'}")
    text = check_report(tmp_path, names, seeds=1, epochs=1)
    assert "**Not comparable with the post's CIFAR-10 figures** (`--quick`)" in text
