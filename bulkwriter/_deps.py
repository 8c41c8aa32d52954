"""Lazy import of optional dependencies, with a message naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from bulkwriter.errors import MissingDependencyError

__all__ = ["import_optional"]


def import_optional(module: str, *, extra: str) -> ModuleType:
    """Import ``module``, or raise MissingDependencyError naming ``bulkwriter[extra]``.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pymilvus"`` or ``"s3fs"``.
    extra : str
        The package extra that installs it, e.g. ``"milvus"``.

    Raises
    ------
    MissingDependencyError
        The module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is needed for this; install it with: pip install 'bulkwriter[{extra}]'"
        ) from exc
