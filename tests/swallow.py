"""Staging the swallowed Ctrl+C that NumPy's ``np.array`` of a JAX array caused: the
handler runs, and library code catches the exception it raises."""

import signal


def swallowed(signum):
    """Raise ``signum`` and lose its exception, as that library code did; whether one was lost."""
    try:
        signal.raise_signal(signum)
    except KeyboardInterrupt:
        return True
    return False
