"""How many generated cases a property test tries: all of them under `nox -s unit` (and so
CI, which sets BENCH_FULL_TIER), a 25th (at least two) in a bare `pytest`, the fast tier
that a developer runs after every change. The same properties either way; the full count
is CI's."""

import os

FULL = os.environ.get("BENCH_FULL_TIER") == "1"


def examples(full: int) -> int:
    return full if FULL else max(2, full // 25)
