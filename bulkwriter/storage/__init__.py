"""Storage: fsspec destinations, staging and atomic commit (see :mod:`bulkwriter.storage.staging`)."""

from bulkwriter.storage.staging import MANIFEST_NAME, STAGING_DIR, Mode, StagedOutput

__all__ = ["MANIFEST_NAME", "STAGING_DIR", "Mode", "StagedOutput"]
