"""The upgrade check's use cases: a training-step fingerprint written to a file, and the
measurements one environment contributes to ``nox -s upgrade`` (drift probe, convergence
runs, speed), each written whole as JSON for ``bench.report.upgrade`` to read.

Each runs in the environment under test; Keras loads only when the work starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.core import files


def write_json(path: Path, value: Any) -> Path:
    """``value`` as indented JSON, whole or not at all."""
    text = json.dumps(value, indent=1) + "\n"
    return files.atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def fingerprint(out: Path, **options: Any) -> dict[str, Any]:
    """Run the training-step fingerprint on the CPU and write it to ``out``."""
    files.check_writable(Path(out).parent)
    # Before any backend starts: the fingerprint is the CPU's, whatever GPU is there.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    from bench.keras import fingerprint as fp  # lazy: TensorFlow/Keras load only for the work

    result = fp.run(**options)
    write_json(out, result)
    return result
