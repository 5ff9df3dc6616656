"""lr-schedules-repro: the PyImageSearch post "Keras learning rate schedules and decay",
reproduced and pinned by tests. Data flows golden/ -> schedules -> experiments -> train
-> results -> report."""
