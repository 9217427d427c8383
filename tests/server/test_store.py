"""SqliteStore on its own: what a commit writes, in order, and how it fails."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server import SqliteStore, StoredJob, StoreError


def job(unique: bytes, data: bytes = b"d") -> StoredJob:
    return StoredJob(unique, b"f", 1, data, 0)


def rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT unique_key, data FROM gearman_queue ORDER BY 1").fetchall()


def test_a_commit_applies_adds_and_removes_in_order(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    store = SqliteStore(str(path))
    store.add(job(b"x", b"1"))
    store.remove(b"x", b"f")
    store.add(job(b"x", b"2"))  # added again after its removal: kept
    store.add(job(b"y"))
    store.remove(b"y", b"f")  # removed after its add: gone
    store.add(job(b"z"))
    assert store.dirty
    assert rows(path) == []  # nothing is written before the commit
    store.commit()
    assert not store.dirty
    assert rows(path) == [("x", b"2"), ("z", b"d")]
    store.commit()  # nothing pending: nothing to do
    store.close()
    assert [j.unique for j in SqliteStore(str(path)).load()] == [b"x", b"z"]


def test_a_failed_commit_raises_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    store = SqliteStore(str(path))
    store.add(job(b"kept"))
    store.commit()
    with sqlite3.connect(path) as other:
        other.execute(  # a row the next INSERT OR REPLACE cannot write
            "CREATE TRIGGER refuse BEFORE INSERT ON gearman_queue WHEN NEW.unique_key = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    store.add(job(b"good"))
    store.add(job(b"bad"))
    with pytest.raises(StoreError, match="disk I/O error"):
        store.commit()
    assert not store.dirty
    assert rows(path) == [("kept", b"d")]  # the batch's good job was rolled back too
    store.add(job(b"later"))
    store.commit()  # the store is usable again
    assert rows(path) == [("kept", b"d"), ("later", b"d")]
    store.close()
