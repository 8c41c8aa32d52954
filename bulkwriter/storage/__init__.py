"""Storage: fsspec destinations, staging and atomic commit, retries and error mapping.

* :mod:`bulkwriter.storage.location` - URL + ``storage_options`` (or a filesystem) to a
  location; import path forms (bucket-relative keys, full URIs); credential redaction.
* :mod:`bulkwriter.storage.staging` - stage objects beside the destination, commit with the
  manifest last, abort, clean up crashed writes.
* :mod:`bulkwriter.storage.retry` - :class:`RetryPolicy`, transient-error classification,
  mapping to :class:`~bulkwriter.errors.StorageError`.
"""

from bulkwriter.storage.location import Location, resolve
from bulkwriter.storage.retry import RetryPolicy, is_transient
from bulkwriter.storage.staging import MANIFEST_NAME, STAGING_DIR, Mode, StagedOutput

__all__ = [
    "MANIFEST_NAME",
    "STAGING_DIR",
    "Location",
    "Mode",
    "RetryPolicy",
    "StagedOutput",
    "is_transient",
    "resolve",
]
