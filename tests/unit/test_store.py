"""The state store: atomic, private, corruption-reporting TinyDB files (flowctl/store.py)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowctl.errors import StoreCorrupt
from flowctl.store import SCHEMA_VERSION, Store

pytestmark = pytest.mark.timeout(60)

DAG = "etl"
RUN = "manual__2026-01-01T00:00:00+00:00"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A home the store creates itself, under a common umask (022)."""
    old = os.umask(0o022)
    try:
        yield tmp_path / "home"
    finally:
        os.umask(old)


def make_run(store: Store, dag_id: str = DAG, run_id: str = RUN, *, state: str = "running",
             tasks: tuple[str, ...] = ("extract", "load")) -> None:
    with store.transaction() as tx:
        rf = tx.run(dag_id, run_id, create=True)
        assert rf is not None
        rf.update_run(dag_id=dag_id, run_id=run_id, state=state)
        for tid in tasks:
            rf.put_ti(tid, state="queued", try_number=0)


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file under the state folder (the lock file aside) with its bytes."""
    root = home / "state"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


# --- commits, visibility, permissions ----------------------------------------------


def test_commit_is_visible_to_a_fresh_store(home: Path):
    """What one Store commits, another Store on the same home reads back (run, TIs, XCom, index)."""
    writer = Store(home)
    make_run(writer)
    with writer.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.put_ti("extract", state="success", try_number=1)
        rf.set_xcom("extract", "return_value", {"rows": 3})

    reader = Store(home)
    data = reader.read_run(DAG, RUN)
    assert data is not None
    assert data.run["state"] == "running"
    assert data.task_instances["extract"] == {"task_id": "extract", "state": "success", "try_number": 1}
    assert data.task_instances["load"]["state"] == "queued"
    assert [(x["task_id"], x["key"], x["value"]) for x in data.xcoms] == [("extract", "return_value", {"rows": 3})]
    assert reader.active_runs() == [(DAG, RUN)]
    assert reader.run_ids(DAG) == [RUN]
    assert reader.seq() >= 2


def test_dag_flags_are_read_back_by_dag_id(home: Path):
    """A DAG flag committed with set_dag_flags is what a fresh Store's is_paused/dag_flags report for that DAG."""
    with Store(home).transaction() as tx:
        tx.set_dag_flags(DAG, paused=True)
        tx.set_dag_flags("other", paused=False)
    reader = Store(home)
    assert reader.is_paused(DAG) is True
    assert reader.is_paused("other") is False
    assert reader.dag_flags()[DAG]["paused"] is True
    with Store(home).transaction() as tx:
        tx.set_dag_flags(DAG, paused=False)
    assert Store(home).is_paused(DAG) is False


def test_state_files_are_0600_and_folders_0700(home: Path):
    """Every file the store writes is readable by the user only (0600), every folder 0700."""
    store = Store(home)
    make_run(store)
    with store.transaction() as tx:
        tx.set_dag_flags(DAG, paused=False)

    files = [p for p in (home / "state").rglob("*") if p.is_file()]
    folders = [home, home / "state", *[p for p in (home / "state").rglob("*") if p.is_dir()]]
    names = {p.name for p in files}
    assert {"index.json", "seq", ".lock", f"{RUN}.json"} <= names
    assert {home / "state" / "runs", home / "state" / "runs" / DAG} <= set(folders)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for p in folders:
        assert stat.S_IMODE(p.stat().st_mode) == 0o700, p


def test_finished_run_leaves_the_active_index(home: Path):
    """A run that reaches a final state is dropped from the active set; its file stays readable."""
    store = Store(home)
    make_run(store)
    assert store.active_runs() == [(DAG, RUN)]
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.update_run(state="success")
    fresh = Store(home)
    assert fresh.active_runs() == []
    data = fresh.read_run(DAG, RUN)
    assert data is not None and data.run["state"] == "success"


# --- damaged files --------------------------------------------------------------------


def test_truncated_run_file_raises_store_corrupt_naming_it(home: Path):
    """A run file cut short is reported as StoreCorrupt with the file's path, not parsed or hidden."""
    make_run(Store(home))
    path = Store(home).run_path(DAG, RUN)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])

    with pytest.raises(StoreCorrupt) as err:
        Store(home).read_run(DAG, RUN)
    assert str(path) in str(err.value)


def test_transaction_touching_a_damaged_run_fails_and_leaves_it_unchanged(home: Path):
    """A transaction that reaches a damaged run file raises StoreCorrupt and writes nothing, that file included."""
    store = Store(home)
    make_run(store)
    make_run(store, run_id="healthy")
    path = store.run_path(DAG, RUN)
    damaged = path.read_bytes()[:-7]
    path.write_bytes(damaged)
    before = snapshot(home)

    for create in (False, True):
        with pytest.raises(StoreCorrupt) as err:
            with Store(home).transaction() as tx:
                ok = tx.run(DAG, "healthy")
                assert ok is not None
                ok.put_ti("extract", state="running")
                rf = tx.run(DAG, RUN, create=create)
                assert rf is not None  # not reached
                rf.update_run(state="failed")
        assert str(path) in str(err.value)
        assert path.read_bytes() == damaged
        assert snapshot(home) == before


def test_damaged_index_is_reported_and_not_overwritten(home: Path):
    """A damaged index.json raises StoreCorrupt on the next commit and keeps its bytes."""
    store = Store(home)
    make_run(store)
    index = home / "state" / "index.json"
    index.write_bytes(b'{"_meta": {"1": {"schema": 1')
    before = snapshot(home)
    with pytest.raises(StoreCorrupt) as err:
        with Store(home).transaction() as tx:
            rf = tx.run(DAG, RUN)
            assert rf is not None
            rf.update_run(state="success")
    assert str(index) in str(err.value)
    assert snapshot(home) == before


def _schema_2(data: dict) -> dict:
    data["_meta"]["1"]["schema"] = SCHEMA_VERSION + 1
    return data


def _schema_missing(data: dict) -> dict:
    del data["_meta"]
    return data


def _schema_as_text(data: dict) -> dict:
    data["_meta"]["1"]["schema"] = str(SCHEMA_VERSION)
    return data


@pytest.mark.parametrize("change", [_schema_2, _schema_missing, _schema_as_text],
                         ids=["newer-version", "no-meta", "version-as-text"])
def test_other_schema_version_raises_store_corrupt(home: Path, change):
    """A run file whose schema version is not this flowctl's is StoreCorrupt, for readers and writers."""
    make_run(Store(home))
    path = Store(home).run_path(DAG, RUN)
    path.write_text(json.dumps(change(json.loads(path.read_bytes()))))
    raw = path.read_bytes()

    with pytest.raises(StoreCorrupt) as err:
        Store(home).read_run(DAG, RUN)
    assert str(path) in str(err.value)
    with pytest.raises(StoreCorrupt):
        with Store(home).transaction() as tx:
            tx.run(DAG, RUN, create=True)
    assert path.read_bytes() == raw


@pytest.mark.parametrize("text", ['{"_meta": []}', '{"_meta": {"1": 1}}', '{"_meta": "v1"}'],
                         ids=["meta-list", "meta-entry-int", "meta-text"])
def test_malformed_meta_raises_store_corrupt(home: Path, text: str):
    """A JSON object whose _meta is not the expected shape is StoreCorrupt naming the file (not a crash)."""
    make_run(Store(home))
    path = Store(home).run_path(DAG, RUN)
    path.write_text(text)
    with pytest.raises(StoreCorrupt) as err:
        Store(home).read_run(DAG, RUN)
    assert str(path) in str(err.value)


# --- guarded transitions ------------------------------------------------------------------


def test_transition_refuses_a_state_not_in_from(home: Path):
    """RunFile.transition changes a TI only when its current state is in from_; a refused one changes nothing."""
    store = Store(home)
    make_run(store)  # extract and load are queued
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        assert rf.transition("extract", from_={"scheduled", "none"}, state="running", pid=1) is False
        assert rf.ti("extract") == {"task_id": "extract", "state": "queued", "try_number": 0}
        assert rf.transition("missing", from_={"queued"}, state="running") is False
        assert rf.ti("missing") is None
        assert rf.transition("load", from_=frozenset({"queued"}), state="running") is True
        assert rf.ti("load")["state"] == "running"
    data = Store(home).read_run(DAG, RUN)
    assert data is not None
    assert data.task_instances["extract"]["state"] == "queued"
    assert "pid" not in data.task_instances["extract"]
    assert "missing" not in data.task_instances
    assert data.task_instances["load"]["state"] == "running"


# --- failed transactions -------------------------------------------------------------------


def test_exception_inside_transaction_writes_nothing(home: Path):
    """An exception inside `with store.transaction()` leaves every state file, and every reader's view, as it was."""
    store = Store(home)
    make_run(store)
    before = snapshot(home)
    seq = store.seq()
    assert store.read_run(DAG, RUN) is not None  # warm this Store's cache

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.transaction() as tx:
            rf = tx.run(DAG, RUN)
            assert rf is not None
            rf.update_run(state="failed")
            rf.put_ti("extract", state="failed", try_number=1)
            rf.set_xcom("extract", "k", 1)
            new = tx.run(DAG, "other", create=True)
            assert new is not None
            new.update_run(state="queued")
            tx.set_dag_flags(DAG, paused=True)
            raise Boom()

    assert snapshot(home) == before
    assert store.seq() == seq
    for reader in (store, Store(home)):
        data = reader.read_run(DAG, RUN)
        assert data is not None
        assert data.run["state"] == "running"
        assert data.task_instances["extract"]["state"] == "queued"
        assert data.xcoms == []
        assert reader.read_run(DAG, "other") is None
        assert not reader.is_paused(DAG)
    # the lock was released: the next transaction goes through at once
    with store.transaction(timeout=1) as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        assert rf.run["state"] == "running"
