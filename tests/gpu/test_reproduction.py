"""The post's full reproduction: five experiments, 100 epochs on CIFAR-10, on a GPU.

    pytest -m gpu                      # one seed each; BENCH_GPU_SEEDS=3 for three
    BENCH_CIFAR10=/data/cifar-10-python.tar.gz pytest -m gpu

Writes reports/gpu-<date>/ (results, REPORT.md, figures) and asserts every experiment is
within the report's stated tolerance of the post's accuracy and that the ranking holds.
Skips where Keras' backend (TensorFlow, or JAX / PyTorch with ``KERAS_BACKEND``) sees no
GPU; fails with the data message where CIFAR-10 is missing.

With Ray installed (``pip install -e '.[gpu,ray]'``) and more than one GPU, the runs go one
per GPU through ``bench reproduce --ray``; ``BENCH_RAY=ADDRESS`` sends them to a cluster
(``--out`` must then be storage every node sees). The suite says which it used.
"""

import datetime
import importlib.util
import os
from pathlib import Path

import pytest
from report_checks import accuracy_rows, check_report

from bench.cli import main
from bench.core import data, experiments

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu():
    from bench.keras import compat

    gpus = [d for d in compat.environment()["devices"] if d.startswith("GPU")]
    if not gpus:
        pytest.skip(
            f"no GPU visible to Keras' {compat.BACKEND} backend: the 100-epoch "
            "reproduction needs one"
        )
    return gpus


@pytest.fixture(scope="module")
def cifar10(gpu):
    try:
        return data.load_cifar10()
    except data.DataError as exc:
        pytest.fail(str(exc), pytrace=False)


def _executor(gpus):
    """Ray when it is installed and helps (several GPUs, or a cluster), else in-process."""
    address = os.environ.get("BENCH_RAY")
    if importlib.util.find_spec("ray") is None:
        return [], "in this process (Ray is not installed)"
    if address:
        return ["--ray", address], f"on the Ray cluster at {address}"
    if len(gpus) > 1:
        return ["--ray"], f"on a local Ray, one run per GPU ({len(gpus)} GPUs)"
    return [], "in this process (one GPU)"


def test_full_reproduction_matches_the_post(cifar10, gpu, capsys):
    seeds = int(os.environ.get("BENCH_GPU_SEEDS", "1"))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    out = ROOT / "reports" / f"gpu-{stamp}"
    executor, how = _executor(gpu)
    with capsys.disabled():
        print(f"\n[INFO] GPU suite: {len(gpu)} GPU(s), the runs go {how}")
    code = main(
        ["reproduce", "--seeds", str(seeds), "--verbose", "2", "--out", str(out), *executor]
    )
    assert code == 0, f"some runs failed: see {out / 'REPORT.md'}"
    names = list(experiments.EXPERIMENTS)
    text = check_report(out, names, seeds=seeds, epochs=experiments.EPOCHS)
    verdicts = {name: row[-1] for name, row in accuracy_rows(text).items()}
    assert verdicts == dict.fromkeys(names, "reproduced"), verdicts
    assert "- ours matches the post's" in text
