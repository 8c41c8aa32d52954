"""The error policy: what a write does with the rows a check found invalid.

``"raise"``: the first invalid piece raises :class:`~bulkwriter.errors.ValidationError`.
``"skip"``: invalid rows are left out and recorded (:class:`~bulkwriter.rejects.RejectLog`),
each with its input row, the rule it broke and its values; once more than ``max_errors``
rows are rejected, ValidationError is raised holding every error so far. Either way every
input row is accounted for: ``rows_written + rows_rejected == rows_read``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from bulkwriter.errors import FieldError, ValidationError
from bulkwriter.rejects import RejectLog
from bulkwriter.validate.checked import Checked

__all__ = ["ErrorPolicy", "OnError"]

OnError = Literal["raise", "skip"]


class ErrorPolicy:
    """Apply ``on_error`` to checked pieces of one write.

    Parameters
    ----------
    on_error : {"raise", "skip"}
        See the module docstring.
    max_errors : int, optional
        With ``"skip"``: most rows rejected before the write fails. None: no limit.
    collection : str, default ""
        Collection name, for the messages.

    Raises
    ------
    ValueError
        ``on_error`` is not one of the two, or ``max_errors`` is negative.
    """

    def __init__(self, on_error: OnError, max_errors: int | None = None, collection: str = "") -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if max_errors is not None and (
            not isinstance(max_errors, int) or isinstance(max_errors, bool) or max_errors < 0
        ):
            raise ValueError(f"max_errors must be a non-negative integer or None, got {max_errors!r}")
        self.on_error: OnError = on_error
        self.max_errors = max_errors
        self.collection = collection
        self.rejects = RejectLog()

    @property
    def skips(self) -> bool:
        """True when invalid rows are left out instead of raised."""
        return self.on_error == "skip"

    @property
    def rows_rejected(self) -> int:
        """Input rows left out so far."""
        return len(self.rejects.rows)

    def apply(self, checked: Checked, offset: int, values: Callable[[int], Mapping[str, Any]]) -> None:
        """Act on ``checked``, a piece whose first row is input row ``offset``.

        Parameters
        ----------
        checked : Checked
            The piece's check.
        offset : int
            Input row of the piece's first row.
        values : callable
            ``values(row)``: the values as given of the piece's row ``row`` (rejects file).

        Raises
        ------
        ValidationError
            ``"raise"`` and the piece has an error (rows are input rows), or ``"skip"`` and
            more than ``max_errors`` rows are now rejected.
        """
        if not checked.errors:
            return
        if not self.skips:
            raise ValidationError([e.shifted(offset) for e in checked.errors], self.collection)
        rejected = [int(r) for r in checked.rejected]
        errors = [e for e in checked.errors if e.row is not None]
        errors += [e.at(r) for e in checked.errors if e.row is None for r in rejected]  # one line per row
        errors.sort(key=lambda e: (e.row, e.field))
        self.reject(errors, offset, {r: values(r) for r in rejected})

    def reject(
        self,
        errors: tuple[FieldError, ...] | list[FieldError],
        offset: int,
        values: Mapping[int, Mapping[str, Any]],
    ) -> None:
        """Record rows left out (``"skip"``); rows of ``errors`` and ``values`` are relative to ``offset``.

        Raises
        ------
        ValidationError
            More than ``max_errors`` rows are now rejected.
        """
        self.rejects.add(errors, offset, values)
        if self.max_errors is not None and self.rows_rejected > self.max_errors:
            raise ValidationError(self.rejects.errors, self.collection)
