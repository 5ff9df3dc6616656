"""Hand-made results files (no training) for tests of bench.report and bench.compare."""

from bench import experiments, reproduce, results

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make_run(name, seed, accuracy, epochs=100, dataset="cifar10", device="CPU: x", ms=20.0):
    """A results dict in the post's set-up whose final accuracy is ``accuracy``."""
    experiment = experiments.get(name)
    # plateau's rate depends on the losses; a constant one stands in.
    lr = [0.1] * epochs if experiment.plateau else experiment.epoch_rates(epochs, batch="last")
    per_class = {c: {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": 1000}
                 for c in CLASSES}  # fmt: skip
    return {
        "schema_version": results.SCHEMA_VERSION,
        "experiment": name,
        "config": {
            "epochs": epochs,
            "batch_size": 128,
            "init_lr": 0.1,
            "momentum": 0.9,
            "model_args": {
                **experiments.MODEL_ARGS,
                "stages": [9, 9, 9],
                "filters": [64, 64, 128, 256],
            },
            "forward_flops_per_image": 265_163_776,
        },
        "seed": seed,
        "dataset": {
            "name": dataset,
            "subset": None,
            "train_images": 50_000,
            "test_images": 10_000,
            "steps_per_epoch": 391,
            "source": "test",
            "sha256": "ab" * 32,
        },
        "environment": {"tensorflow": "2.x", "devices": [device]},
        "started": "t0",
        "finished": "t1",
        "history": {
            "epoch": list(range(1, epochs + 1)),
            "loss": [1.0] * epochs,
            "accuracy": [0.9] * epochs,
            "val_loss": [0.7] * epochs,
            "val_accuracy": [accuracy] * epochs,
            "lr": lr,
            "seconds": [40.0] + [10.0] * (epochs - 1),
            "ms_per_step": [90.0] + [ms] * (epochs - 1),
            "images_per_second": [1000.0] + [6400.0] * (epochs - 1),
        },
        "evaluation": {
            "accuracy": accuracy,
            "report": {**per_class, "accuracy": accuracy},
            "report_text": "",
        },
    }


def folder_of(tmp_path, runs, plan=None):
    for run in runs:
        results.write(
            tmp_path / reproduce.RUNS / results.file_name(run["experiment"], run["seed"]), run
        )
    if plan is not None:
        reproduce.write_plan(tmp_path, plan)
    return tmp_path
