"""The post's set-up is recognised by what the data is, not by its name (issue 20, class 2):
only CIFAR-10's counts (50,000 / 10,000 images, 1,000 test images a class) with the post's
epochs, batch and model get a verdict; data in CIFAR-10's format with other counts gets the
"Not comparable" banner and no verdict, whatever its accuracy says."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from results_factory import folder_of, make_run, retime

from bench.core import data, identity
from bench.report import markdown

POST = {"none": 0.8414, "standard": 0.8151, "step": 0.8680, "linear": 0.8724, "poly": 0.8651}


def _small(run, train, test):
    """``run`` on ``train`` and ``test`` images, its report's supports adding up to them."""
    run["dataset"].update(train_images=train, test_images=test)
    report = run["evaluation"]["report"]
    for name in data.CIFAR10_CLASSES:
        report[name]["support"] = test // 10
    report[data.CIFAR10_CLASSES[0]]["support"] += test % 10
    report["macro avg"]["support"] = report["weighted avg"]["support"] = test
    return retime(run)


def test_the_posts_set_up_is_comparable():
    assert all(identity.comparable_with_post(make_run(n, 0, a)) for n, a in POST.items())


@given(train=st.integers(10, 60_000), test=st.integers(10, 12_000))
def test_other_counts_are_never_the_posts_data(train, test):
    if (train, test) == (50_000, 10_000):
        return
    assert not identity.comparable_with_post(_small(make_run("step", 0, 0.87), train, test))


@pytest.mark.parametrize("accuracy", [0.30, 0.87, 0.99])
def test_a_tiny_cifar10_gets_no_verdict_whatever_its_accuracy(tmp_path, accuracy):
    """The issue's case: 50 training and 10 test images, the post's epochs, batch and model."""
    runs = [_small(make_run(n, 0, accuracy), 50, 10) for n in POST]
    text = markdown.render(folder_of(tmp_path, runs))
    assert "Not comparable with the post's CIFAR-10 figures" in text
    assert "reproduced" not in text.split("## ")[0].lower().replace("not reproduced", "")
