"""Progress reporting: a callback protocol and a tqdm adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Progress", "ProgressLike", "make_progress"]


class Progress(Protocol):
    """Receives the number of rows just written; closed once at the end."""

    def update(self, rows: int) -> None:
        """Add ``rows`` rows to the count."""

    def close(self) -> None:
        """The write ended (committed or aborted)."""


ProgressLike = bool | Callable[[int], object] | Progress | None


class _Silent:
    def update(self, rows: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Callback:
    def __init__(self, fn: Callable[[int], object]) -> None:
        self._fn = fn
        self._done = 0

    def update(self, rows: int) -> None:
        self._done += rows
        self._fn(self._done)

    def close(self) -> None:
        pass


class _Tqdm:
    def __init__(self, description: str) -> None:
        from tqdm.auto import tqdm

        # disable=None: the bar shows on a terminal and stays quiet otherwise (CI, pipes)
        self._bar = tqdm(desc=description, unit=" rows", unit_scale=True, disable=None)

    def update(self, rows: int) -> None:
        self._bar.update(rows)

    def close(self) -> None:
        self._bar.close()


def make_progress(progress: ProgressLike, description: str = "bulkwriter") -> Progress:
    """Return a Progress for the ``progress=`` argument.

    Parameters
    ----------
    progress : None, bool, callable or Progress
        None or False: silent. True: a tqdm bar on stderr, shown only on a terminal.
        A callable: called with the total rows done after each validated batch.
        An object with ``update(rows)`` and ``close()``: used as is.
    """
    if progress is None or progress is False:
        return _Silent()
    if progress is True:
        return _Tqdm(description)
    if hasattr(progress, "update") and hasattr(progress, "close"):
        return progress
    if callable(progress):
        return _Callback(progress)
    raise TypeError(
        f"progress must be None, a bool, a callable or a Progress object, got {type(progress).__name__}"
    )
