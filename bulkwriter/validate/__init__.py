"""Column-wise validation: input columns to the canonical Arrow form, or FieldError records."""

from bulkwriter.validate.batch import BatchValidator
from bulkwriter.validate.columns import conform_column

__all__ = ["BatchValidator", "conform_column"]
