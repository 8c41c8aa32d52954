"""Shared pytest configuration and fixtures.

Sections: general fixtures (add yours here), then the real Milvus 2.3.5 server
(``milvus_server`` / ``milvus_conn``; the process handling lives in ``tests/milvus_support.py``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:  # lets test modules `import milvus_support`
    sys.path.insert(0, str(TESTS_DIR))

# ======================================================================================
# General fixtures
# ======================================================================================


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="nightly-style run: many more hypothesis examples (profile 'slow')",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the size of each fault / kill / race matrix that ran (tests/commit_checks.py)."""
    from commit_checks import MATRIX_LINES

    if MATRIX_LINES:
        terminalreporter.section("commit proofs")
        total = 0
        for line in MATRIX_LINES:
            terminalreporter.write_line(line)
            total += int(line.split(" cases")[0].rsplit(" ", 1)[1]) if " cases" in line else 0
        terminalreporter.write_line(f"{total} cases in all")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--slow"):
        os.environ["BULKWRITER_HYPOTHESIS_PROFILE"] = "slow"


# ======================================================================================
# Real Milvus 2.3.5 server (marker: milvus)
#
# One server for the whole run, started on first use by a `milvus`-marked test.
#   * not installed (`milvus` wheel missing): skip, unless $CI is set -> fail
#   * installed but cannot start (ports busy, crash, timeout): always fail
# Env: MILVUS_START_TIMEOUT_S (default 120), MILVUS_LOCK_TIMEOUT_S (default 300: wait for
# another test run's server to finish), MILVUS_BASE_DIR (default: pytest cache dir; keeps the
# unpacked 250 MB binary between runs).
# ======================================================================================

_PYMILVUS_ORM_WARNING = "ignore:.*ORM-style PyMilvus API:FutureWarning"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # pymilvus 3.0 warns on every ORM call, attributed to the caller's module; the project
    # turns warnings into errors, so silence that one warning for Milvus tests only.
    for item in items:
        if item.get_closest_marker("milvus") is not None:
            item.add_marker(pytest.mark.filterwarnings(_PYMILVUS_ORM_WARNING))


def _milvus_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and the Milvus server is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def milvus_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Milvus 2.3.5 standalone server (local storage) for the whole test session.

    Yields the :class:`milvus_support.MilvusProcess` (``host``, ``port``, ``pid``,
    ``timings``). Stopped by pid at session end, also when tests fail or are interrupted.
    """
    if importlib.util.find_spec("milvus") is None or importlib.util.find_spec("pymilvus") is None:
        _milvus_unavailable("needs the milvus==2.3.5 wheel and pymilvus (pip install -e .[test])")
    import milvus_support

    base = os.environ.get("MILVUS_BASE_DIR")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if base:
        base_dir = Path(base)
    elif cache is not None:
        base_dir = Path(cache.mkdir("milvus-2.3.5"))
    else:
        base_dir = Path(tempfile.gettempdir()) / "bulkwriter-milvus-2.3.5"
    server = milvus_support.MilvusProcess(
        base_dir,
        start_timeout_s=float(os.environ.get("MILVUS_START_TIMEOUT_S", "120")),
        lock_timeout_s=float(os.environ.get("MILVUS_LOCK_TIMEOUT_S", "300")),
    )
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any start failure fails the Milvus tests
        pytest.fail(f"Milvus 2.3.5 did not start: {exc}", pytrace=False)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    try:
        yield server
    finally:
        server.stop()
        if reporter is not None:
            t = server.timings
            reporter.write_line(
                f"milvus: pid {server.pid} on 127.0.0.1:{server.port}; start {t.get('start_s', 0):.1f}s "
                f"(unpack {t.get('unpack_s', 0):.1f}s), stop {t.get('stop_s', 0):.1f}s"
                + ("".join(f"; {n}" for n in server.notes))
            )


@pytest.fixture(scope="session")
def milvus_conn(milvus_server: Any) -> Iterator[Any]:
    """Connect pymilvus's ``default`` alias to the session server (once per run)."""
    from milvus_support import quiet_pymilvus
    from pymilvus import connections

    with quiet_pymilvus():
        connections.connect(
            alias="default", host=milvus_server.host, port=str(milvus_server.port), timeout=10
        )
    try:
        yield milvus_server
    finally:
        with quiet_pymilvus():
            connections.disconnect("default")


# ======================================================================================
# Storage emulators (moto S3, GCS emulator, Azurite): fixtures live in tests/emulators.py
# (owner: storage). Session-scoped servers; `store` / `remote_store` give a fresh bucket.
# ======================================================================================

from emulators import *  # noqa: E402, F403
