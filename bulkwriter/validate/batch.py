"""Validate one record batch against a collection: field set, every column, ``$meta``, primary keys.

Field-set rules (target-formats.md §3): every input field present (nullable and defaulted
fields may be absent), no auto_id primary key, no function output field, unknown keys go to
the dynamic field ``$meta`` when it is enabled and are an error otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from bulkwriter.errors import FieldError, short_repr
from bulkwriter.schema.arrow import canonical_schema
from bulkwriter.schema.collection import DYNAMIC_FIELD, CollectionSchema
from bulkwriter.validate._util import described, error_rows, make_errors
from bulkwriter.validate.columns import conform_column
from bulkwriter.validate.finite import nonfinite_errors
from bulkwriter.validate.json_text import json_quoted
from bulkwriter.validate.primary_key import PrimaryKeyTracker
from bulkwriter.validate.scalars import check_json_texts, json_size_errors

__all__ = ["JSON_TEXT_METADATA", "BatchValidator"]

#: Field metadata marking a column whose cells are already JSON text (built from row dicts).
JSON_TEXT_METADATA = {b"bulkwriter.json_text": b"1"}


class BatchValidator:
    """Turns input batches into canonical batches for one collection, or reports why not.

    Parameters
    ----------
    schema : CollectionSchema
        The collection.
    check_duplicates : bool, default True
        Track primary keys across the whole write and report repeats (8 bytes per row).
    row_checks : callable, optional
        Called with the canonical batch when every other rule passed; returns further
        errors (rows relative to the batch), e.g. an output format's
        :meth:`~bulkwriter.formats.base.Encoder.check_rows`. Its errors fail the batch
        like any other, before its primary keys are recorded.
    """

    def __init__(
        self,
        schema: CollectionSchema,
        *,
        check_duplicates: bool = True,
        row_checks: Callable[[pa.RecordBatch], list[FieldError]] | None = None,
    ) -> None:
        self.schema = schema
        self._row_checks = row_checks
        self.arrow_schema = canonical_schema(schema)
        self._fields = schema.input_fields
        self._field_names = {f.name for f in self._fields}
        self._reserved_keys = frozenset({f.name for f in schema.fields} | {DYNAMIC_FIELD})
        primary = schema.primary_field
        self._pk_tracker = PrimaryKeyTracker(primary) if check_duplicates and not primary.auto_id else None

    def validate(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[FieldError]]:
        """Check and cast ``batch``.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            Input columns by name (any Arrow types the rules can cast losslessly).

        Returns
        -------
        batch : pyarrow.RecordBatch
            In the canonical form of :mod:`bulkwriter.schema.arrow`; only meaningful when
            ``errors`` is empty.
        errors : list of FieldError
            Every problem found, rows relative to this batch, sorted by row.
        """
        n = batch.num_rows
        names = batch.schema.names
        errors: list[FieldError] = []
        columns: list[pa.Array] = []
        for field in self._fields:
            present = field.name in names
            if not present and not field.accepts_null:
                errors.append(
                    FieldError("missing_field", field.name, None, "a column or key for this field", "none")
                )
            column, column_errors = conform_column(field, batch.column(field.name) if present else None, n)
            if not present and not field.accepts_null:
                column_errors = []
            errors.extend(column_errors)
            columns.append(column)
        errors.extend(self._field_set_errors(batch))
        if self.schema.enable_dynamic_field:
            meta, meta_errors = self._build_meta(batch)
            errors.extend(meta_errors)
            columns.append(meta)
        keys = None
        if self._pk_tracker is not None:
            pk_column = columns[[f.name for f in self._fields].index(self.schema.primary_field.name)]
            if pk_column.null_count == 0:
                pk_errors, keys = self._pk_tracker.check(pk_column)
                errors.extend(pk_errors)
        errors.sort(key=lambda e: (-1 if e.row is None else e.row, e.field))
        if errors:
            return pa.RecordBatch.from_pylist([], schema=self.arrow_schema), errors
        valid = pa.RecordBatch.from_arrays(columns, schema=self.arrow_schema)
        if self._row_checks is not None:
            errors = self._row_checks(valid)
            if errors:
                return pa.RecordBatch.from_pylist([], schema=self.arrow_schema), errors
        if keys is not None and self._pk_tracker is not None:
            self._pk_tracker.add(keys)
        return valid, []

    def _field_set_errors(self, batch: pa.RecordBatch) -> list[FieldError]:
        errors = []
        primary = self.schema.primary_field
        for name in batch.schema.names:
            if name in self._field_names or (name == DYNAMIC_FIELD and self.schema.enable_dynamic_field):
                continue
            column = batch.column(name)
            rows = error_rows(column.is_valid())
            if name == primary.name and primary.auto_id:
                errors.extend(
                    make_errors(
                        rows,
                        code="auto_id_primary_key",
                        field=name,
                        expected="no primary key values (auto_id is on: the server generates them)",
                        got=partial(_cell_value, column),
                    )
                )
            elif name in self.schema.function_output_fields:
                errors.append(
                    FieldError(
                        "function_output_field", name, None, "no data (a function computes it)", "a column"
                    )
                )
            elif self.schema.enable_dynamic_field:
                continue
            else:
                errors.extend(
                    make_errors(
                        rows,
                        code="unknown_field",
                        field=name,
                        expected="only schema fields (enable the dynamic field to keep other keys in $meta)",
                        got=partial(_described_key, name),
                    )
                )
        return errors

    def _build_meta(self, batch: pa.RecordBatch) -> tuple[pa.Array, list[FieldError]]:
        """Build the ``$meta`` column: the input's ``$meta`` objects merged with unknown keys."""
        n = batch.num_rows
        primary = self.schema.primary_field
        extras = [
            name
            for name in batch.schema.names
            if name not in self._field_names
            and name != DYNAMIC_FIELD
            and not (name == primary.name and primary.auto_id)
            and name not in self.schema.function_output_fields
        ]
        has_meta = DYNAMIC_FIELD in batch.schema.names
        if not extras and not has_meta:
            return pa.array(np.full(n, "{}", dtype=object), pa.string()), []
        names = [*extras, DYNAMIC_FIELD] if has_meta else extras
        nonfinite = [e for name in names for e in nonfinite_errors(name, batch.column(name))]
        if nonfinite:
            return pa.nulls(n, pa.string()), nonfinite
        if not has_meta and len(set(extras)) == len(extras):
            meta = _meta_from_columns(batch, extras)
            if meta is not None:
                return meta, json_size_errors(DYNAMIC_FIELD, meta)
        return self._merge_meta_rows(batch, extras, has_meta)

    def _merge_meta_rows(
        self, batch: pa.RecordBatch, extras: list[str], has_meta: bool
    ) -> tuple[pa.Array, list[FieldError]]:
        """``$meta`` row by row: input ``$meta`` objects merged with the unknown keys, clashes reported."""
        n = batch.num_rows
        errors: list[FieldError] = []
        objects: list[dict[str, object]] = [{} for _ in range(n)]
        if has_meta:
            for row, text in enumerate(_meta_values(batch.column(DYNAMIC_FIELD))):
                if text is None:
                    continue
                value = text if isinstance(text, dict) else _loads(text)
                if not isinstance(value, dict):
                    errors.append(
                        FieldError("invalid_meta", DYNAMIC_FIELD, row, "a JSON object", short_repr(text))
                    )
                    continue
                clash = sorted(self._reserved_keys.intersection(value))
                if clash:  # Milvus imports it, but such a row can never be upserted again
                    errors.append(
                        FieldError(
                            "dynamic_key_clash",
                            DYNAMIC_FIELD,
                            row,
                            "$meta keys that are not a field name or '$meta'",
                            f"key '{clash[0]}'",
                        )
                    )
                objects[row] = value
        for name in extras:
            field = batch.schema.field(name)
            column = batch.column(name)
            if field.metadata and field.metadata.get(b"bulkwriter.json_text"):
                values: list[object] = [None if t is None else orjson.Fragment(t) for t in column.to_pylist()]
            else:
                values = column.to_pylist()
            for row, value in enumerate(values):
                if value is None:
                    continue
                target = objects[row]
                if name in target:
                    errors.append(
                        FieldError(
                            "dynamic_key_clash",
                            DYNAMIC_FIELD,
                            row,
                            f"key '{name}' once",
                            "it in $meta and as a key",
                        )
                    )
                target[name] = value
        texts: list[str] = []
        for row, obj in enumerate(objects):
            try:
                texts.append(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode())
            except TypeError as exc:
                errors.append(
                    FieldError("invalid_json", DYNAMIC_FIELD, row, "JSON-serialisable values", str(exc)[:60])
                )
                texts.append("{}")
        meta = pa.array(texts, pa.string())
        errors.extend(check_json_texts(DYNAMIC_FIELD, meta))
        return meta, errors


def _cell_value(column: pa.Array, row: int) -> object:
    return column[row].as_py()


def _described_key(name: str, row: int) -> str:
    return described(f"key '{name}'")


_EMPTY = pa.scalar("", pa.string())
_DUMPS = partial(orjson.dumps, option=orjson.OPT_SERIALIZE_NUMPY)


def _json_column(field: pa.Field, column: pa.Array) -> pa.Array | None:
    """The JSON text of each cell of an unknown-key column (null where absent), or None.

    Integers and bools are formatted by Arrow (the same text orjson writes); JSON-text columns
    from row dicts are taken as they are; other types are dumped by orjson cell by cell in C
    (``map``). None when a value cannot be dumped (the caller then takes the careful path).
    """
    if field.metadata and field.metadata.get(b"bulkwriter.json_text"):
        return column.cast(pa.string())
    if pa.types.is_integer(column.type):
        return column.cast(pa.string())
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, "true", "false")
    if pa.types.is_string(column.type):
        return json_quoted(column)
    try:
        # each cell's bytes are decoded and dropped at once: keeping 100k small orjson
        # results alive costs ~5 us each in allocation (measured), decoding ~0.3 us
        dumped = pa.array(list(map(bytes.decode, map(_DUMPS, column.to_pylist()))), pa.string())
    except (TypeError, orjson.JSONEncodeError, pa.ArrowInvalid):
        return None
    if column.null_count:
        dumped = pc.if_else(column.is_valid(), dumped, pa.scalar(None, pa.string()))
    return dumped


def _meta_from_columns(batch: pa.RecordBatch, extras: list[str]) -> pa.Array | None:
    """``$meta`` objects built column-wise from unknown-key columns (no input ``$meta``).

    Each key becomes the piece ``,"key":<value text>`` (empty where the row lacks the key);
    the pieces are joined per row and wrapped in braces, all with Arrow compute: the same
    text orjson writes for the dict of those keys, in column order.
    """
    pieces = []
    for name in extras:
        texts = _json_column(batch.schema.field(name), batch.column(name))
        if texts is None:
            return None
        prefix = pa.scalar("," + orjson.dumps(name).decode() + ":", pa.string())
        piece = pc.binary_join_element_wise(prefix, texts, _EMPTY)
        pieces.append(pc.fill_null(piece, _EMPTY) if piece.null_count else piece)
    joined = pc.binary_join_element_wise(*pieces, _EMPTY)
    inner = pc.utf8_slice_codeunits(joined, 1)
    meta: pa.Array = pc.binary_join_element_wise(
        pa.scalar("{", pa.string()), inner, pa.scalar("}", pa.string()), _EMPTY
    )
    return meta


def _meta_values(column: pa.Array) -> list[object]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return list(column.to_pylist())
    if pa.types.is_map(column.type):
        return [None if v is None else dict(v) for v in column.to_pylist()]
    return list(column.to_pylist())


def _loads(text: object) -> object:
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
