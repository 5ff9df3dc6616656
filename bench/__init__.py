"""lr-schedules-repro: the PyImageSearch post "Keras learning rate schedules and decay",
reproduced and pinned by tests.

Data flows one way: experiments (a run's settings, built from schedules) -> train (one
run, through lifecycle) -> results JSON -> run set (runset) -> report / compare. golden/
holds the post's numbers and is read only by the tests and the report.
docs/architecture.md lists every module's layer and which module owns which fact.
"""

import logging

# A library's convention: quiet unless the application shows bench's records
# (the command line does: bench.core.console).
logging.getLogger(__name__).addHandler(logging.NullHandler())
