"""Checking one converted piece: which of its rows are valid, and why the others are not.

The stage between conversion (:class:`~bulkwriter.inputs.Converted`) and the error policy
(:mod:`bulkwriter.policy`). Rows with a conversion error are set aside first; the rest are
validated; rows named by a validation error are set aside and what is left is validated
again (a row's primary key is recorded only once its row passed every rule), until what is
left is clean. So ``valid`` holds exactly the rows that break no rule, and every other row
of the piece is named by at least one error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from bulkwriter.errors import FieldError
from bulkwriter.inputs import Converted
from bulkwriter.validate.batch import BatchValidator

__all__ = ["Checked", "check"]


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one piece.

    Attributes
    ----------
    valid : pyarrow.RecordBatch
        The valid rows, in the canonical form (:mod:`bulkwriter.schema.arrow`), in input order.
    positions : numpy.ndarray of int64, shape (len(valid),)
        Each valid row's row in the piece.
    errors : tuple of FieldError
        Why the other rows are not valid, rows relative to the piece, sorted by row; an
        error about a whole column (e.g. a missing one) has ``row=None`` and no row of the
        piece is then valid.
    num_rows : int
        Rows in the piece.
    """

    valid: pa.RecordBatch
    positions: np.ndarray
    errors: tuple[FieldError, ...]
    num_rows: int

    @property
    def rejected(self) -> np.ndarray:
        """Rows of the piece (int64, sorted) that are not valid."""
        mask = np.ones(self.num_rows, dtype=bool)
        mask[self.positions] = False
        return np.flatnonzero(mask)


def check(validator: BatchValidator, piece: Converted, *, every_row: bool = True) -> Checked:
    """Check ``piece`` against ``validator``'s collection.

    Parameters
    ----------
    validator : BatchValidator
        The collection's validator (it records the primary keys of valid rows).
    piece : Converted
        A converted piece of input.
    every_row : bool, default True
        True: find every invalid row (what a skipping write needs). False: stop at the first
        round of errors (a raising write needs only to know the piece is bad, and why); then
        ``valid`` is empty whenever ``errors`` is not.

    Returns
    -------
    Checked
    """
    n = piece.num_rows
    errors = list(piece.errors)
    empty = pa.RecordBatch.from_pylist([], schema=validator.arrow_schema)
    if errors and not every_row:
        return Checked(empty, np.empty(0, np.int64), tuple(errors), n)
    keep = np.ones(n, dtype=bool)
    keep[piece.bad_rows()] = False
    positions = np.flatnonzero(keep)
    current = piece.batch if len(positions) == n else piece.batch.filter(pa.array(keep))
    while True:
        valid, found = validator.validate(current)
        if not found:
            break
        if not every_row:
            errors.extend(_moved(e, positions) for e in found)
            valid, positions = empty, np.empty(0, np.int64)
            break
        if any(e.row is None for e in found):  # about a whole column: no row of it is valid
            errors.extend(_moved(e, positions) for e in found)
            valid, positions = empty, np.empty(0, np.int64)
            break
        errors.extend(_moved(e, positions) for e in found)
        still = np.ones(len(positions), dtype=bool)
        still[[e.row for e in found if e.row is not None]] = False
        positions = positions[still]
        current = current.filter(pa.array(still))
    errors.sort(key=lambda e: (-1 if e.row is None else e.row, e.field))
    return Checked(valid, positions.astype(np.int64), tuple(errors), n)


def _moved(error: FieldError, positions: np.ndarray) -> FieldError:
    """``error`` with its row mapped through ``positions`` (row of the checked rows -> row of the piece)."""
    return error if error.row is None else error.at(int(positions[error.row]))
