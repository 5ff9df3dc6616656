"""The tags that open the suite's own JSON files other than results: each is written in
one layer and read in another, so it lives here, below both."""

from __future__ import annotations

# A training-step fingerprint: written by bench.keras.fingerprint, read by
# bench.report.fingerprints (and recognised there by ``bench compare``).
FINGERPRINT = "bench-fingerprint/1"
