"""The command's process tuning: applied by default, left alone when the user chose."""

from __future__ import annotations

import gc
import sys

import pytest

from server._tuning import collect_less_often, keep_freed_memory

pytestmark = pytest.mark.timeout(10)


def test_user_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    assert keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applied_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GLIBC_TUNABLES", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    assert keep_freed_memory() is True
    assert bytes(4 << 20)  # large blocks still allocate


def test_collector_runs_less_often_unless_someone_chose() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        assert collect_less_often(50_000) is True
        assert gc.get_threshold() == (50_000, 10, 10)
        assert collect_less_often() is False  # no longer the default: a choice is kept
        gc.set_threshold(700, 10, 10)
        gc.disable()
        assert collect_less_often() is False  # disabled by the user: left alone
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.enable()
        gc.set_threshold(*before)
