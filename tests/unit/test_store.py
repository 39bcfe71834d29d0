"""The state store: a run is a document plus a journal of fsynced, checksummed
lines; atomic, private, and naming what it cannot read (flowctl/store.py)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowctl.errors import StoreCorrupt
from flowctl.records import Run, TaskInstance, TaskKey
from flowctl.store import FOLD_MIN_BYTES, SCHEMA_VERSION, Store

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
        tx.create_run(Run(dag_id, run_id, state=state), [TaskInstance(t, state="queued") for t in tasks], {})


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file under the state folder (the lock file aside) with its bytes."""
    root = home / "state"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def ti_state(store: Store, task_id: str, run_id: str = RUN) -> str:
    data = store.read_run(DAG, run_id)
    assert data is not None
    return data.tis[TaskKey(task_id)].state


def change(store: Store, run: dict[str, str] | None = None, **tasks: dict[str, object]) -> None:
    """One commit on the run: each task instance named gets its fields, the run `run`'s."""
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        for task_id, fields in tasks.items():
            rf.put_ti(task_id, **fields)
        if run:
            rf.update_run(**run)


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
    extract = data.task_instances["extract"]
    assert (extract["task_id"], extract["state"], extract["try_number"]) == ("extract", "success", 1)
    assert data.task_instances["load"]["state"] == "queued"
    assert [(x["task_id"], x["key"], x["value"]) for x in data.xcoms] == [("extract", "return_value", {"rows": 3})]
    assert reader.active_runs() == [(DAG, RUN)]
    assert reader.run_ids(DAG) == [RUN]
    assert reader.seq() >= 2


def test_a_commit_appends_a_line_and_leaves_the_document_alone(home: Path):
    """A change to a running run is one journal line; the run's document is not rewritten
    (so a commit costs what changed, not the run's size)."""
    store = Store(home)
    make_run(store, tasks=tuple(f"t{i}" for i in range(2000)))
    doc = store.run_path(DAG, RUN)
    before = (doc.stat().st_ino, doc.stat().st_mtime_ns, doc.read_bytes())
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.put_ti("t7", state="success", try_number=1)
    journal = store.journal_path(DAG, RUN)
    lines = journal.read_bytes().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 200
    assert (doc.stat().st_ino, doc.stat().st_mtime_ns, doc.read_bytes()) == before
    assert ti_state(Store(home), "t7") == "success"


def test_a_finished_run_is_folded_into_one_document(home: Path):
    """When a run ends, its journal is folded into a new document and removed; the state is the same."""
    store = Store(home)
    make_run(store)
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.put_ti("extract", state="success", try_number=1)
    assert store.journal_path(DAG, RUN).exists()
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.put_ti("load", state="failed", try_number=1)
        rf.update_run(state="failed")
    assert not store.journal_path(DAG, RUN).exists()
    doc = json.loads(store.run_path(DAG, RUN).read_bytes())
    states = {t["task_id"]: t["state"] for t in doc["task_instances"].values()}
    assert states == {"extract": "success", "load": "failed"}
    assert Store(home).read_run(DAG, RUN).run["state"] == "failed"


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files and folders forced to disk (fsync, fdatasync), by path, in order."""
    seen: list[str] = []

    def watch(real):
        def call(fd: int) -> None:
            seen.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd)
        return call

    monkeypatch.setattr(os, "fsync", watch(os.fsync))
    monkeypatch.setattr(os, "fdatasync", watch(os.fdatasync))
    return seen


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")
def test_a_line_that_only_hands_tries_over_is_not_forced_to_disk_until_a_result_follows(home: Path, synced):
    """Queued and running marks are written, not synced (a power cut takes the tries with
    them); a result is synced before the commit returns, and with it every earlier line."""
    store = Store(home)
    make_run(store)
    journal = str(store.journal_path(DAG, RUN))
    synced.clear()
    change(store, extract={"state": "queued", "try_number": 1}, load={"state": "running", "pid": 42})
    assert journal not in synced and len(Path(journal).read_bytes().splitlines()) == 1
    assert ti_state(Store(home), "extract") == "queued"  # written: other processes see it
    change(store, load={"state": "success", "try_number": 1})
    assert synced.count(journal) == 1
    assert str(Path(journal).parent) in synced  # the new journal's name, with its first synced line
    fresh = Store(home)
    assert (ti_state(fresh, "extract"), ti_state(fresh, "load")) == ("queued", "success")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")
def test_a_run_that_ends_is_written_once_as_a_document(home: Path, synced):
    """The commit that ends a run writes its document with the last change in it: no
    journal line is synced first, and the journal is gone."""
    store = Store(home)
    make_run(store)
    change(store, extract={"state": "success", "try_number": 1})
    journal = store.journal_path(DAG, RUN)
    synced.clear()
    change(store, run={"state": "success"}, load={"state": "success", "try_number": 1})
    assert not journal.exists() and str(journal) not in synced
    assert any(p.endswith(".tmp") and f"{RUN}.json" in p for p in synced), synced
    for reader in (store, Store(home)):
        run = reader.read_run(DAG, RUN)
        assert run is not None and run.record.state == "success"
        assert {k.task_id: ti.state for k, ti in run.tis.items()} == {"extract": "success", "load": "success"}


def test_a_run_whose_document_the_disk_refuses_ends_in_its_journal(home: Path, monkeypatch):
    """If the ended run's document cannot be written (a full disk), its last change is a
    journal line as any other: committed, and read back."""
    store = Store(home)
    make_run(store)
    real_replace = os.replace

    def refuse(src, dst, *args, **kwargs):
        if str(dst).endswith(f"{RUN}.json"):
            Path(src).unlink()
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", refuse)
    change(store, run={"state": "failed"}, load={"state": "failed", "try_number": 1})
    monkeypatch.setattr(os, "replace", real_replace)
    assert store.journal_path(DAG, RUN).exists()
    for reader in (store, Store(home)):
        run = reader.read_run(DAG, RUN)
        assert run is not None and run.record.state == "failed" and run.tis[TaskKey("load")].state == "failed"


def test_a_long_journal_is_folded_and_readers_see_every_change(home: Path):
    """Past its size limit the journal is folded; a reader that followed it incrementally
    and a fresh reader agree on every change."""
    store = Store(home)
    make_run(store, tasks=("a",))
    follower = Store(home)
    assert follower.read_run(DAG, RUN) is not None
    big = "x" * 4096
    n = FOLD_MIN_BYTES // 4096 + 10
    for i in range(n):
        with store.transaction() as tx:
            rf = tx.run(DAG, RUN)
            assert rf is not None
            rf.put_ti("a", note=f"{i}:{big}", try_number=i)
        if i % 7 == 0:
            assert follower.read_run(DAG, RUN).tis[TaskKey("a")].try_number == i
    assert store.journal_path(DAG, RUN).stat().st_size < FOLD_MIN_BYTES
    for reader in (follower, Store(home)):
        ti = reader.read_run(DAG, RUN).tis[TaskKey("a")]
        assert ti.try_number == n - 1 and ti.extra["note"].startswith(f"{n - 1}:")


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
        rf = tx.run(DAG, RUN)
        assert rf is not None
        rf.put_ti("extract", state="running")

    files = [p for p in (home / "state").rglob("*") if p.is_file()]
    folders = [home, home / "state", *[p for p in (home / "state").rglob("*") if p.is_dir()]]
    names = {p.name for p in files}
    assert {"index.json", "dags.json", "seq", ".lock", f"{RUN}.json", f"{RUN}.journal"} <= names
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


# --- crashes and damage ---------------------------------------------------------------


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_writer(home: Path):
    """A writer killed mid-append leaves half a line: readers ignore it (it was never
    announced) and the next commit cuts it off before appending."""
    store = Store(home)
    make_run(store)
    with store.transaction() as tx:
        tx.run(DAG, RUN).put_ti("extract", state="running", try_number=1)
    journal = store.journal_path(DAG, RUN)
    good = journal.read_bytes()
    with open(journal, "ab") as f:
        f.write(b'0000abcd {"n": 2, "tis": [["extract", -1, {"state": "succ')
    assert ti_state(Store(home), "extract") == "running"
    with Store(home).transaction() as tx:
        tx.run(DAG, RUN).put_ti("load", state="running", try_number=1)
    raw = journal.read_bytes()
    assert raw.startswith(good) and b"succ" not in raw
    reader = Store(home)
    assert (ti_state(reader, "extract"), ti_state(reader, "load")) == ("running", "running")


def test_a_damaged_line_inside_the_journal_is_reported(home: Path):
    """A bad line followed by good ones is damage: StoreCorrupt naming the journal."""
    store = Store(home)
    make_run(store)
    for state in ("running", "success"):
        with store.transaction() as tx:
            tx.run(DAG, RUN).put_ti("extract", state=state, try_number=1)
    journal = store.journal_path(DAG, RUN)
    raw = bytearray(journal.read_bytes())
    raw[12] ^= 0x20
    journal.write_bytes(bytes(raw))
    with pytest.raises(StoreCorrupt) as err:
        Store(home).read_run(DAG, RUN)
    assert str(journal) in str(err.value)


def test_truncated_run_file_raises_store_corrupt_naming_it(home: Path):
    """A run file cut short is reported as StoreCorrupt with the file's path, not parsed or hidden."""
    make_run(Store(home))
    path = Store(home).run_path(DAG, RUN)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])

    with pytest.raises(StoreCorrupt) as err:
        Store(home).read_run(DAG, RUN)
    assert str(path) in str(err.value)


def test_an_unreadable_run_file_is_store_corrupt(home: Path):
    """A run file the user cannot read is reported like a damaged one, naming it
    (read in a process without CAP_DAC_OVERRIDE, so that modes bind even root)."""
    import shutil
    import subprocess
    import sys

    make_run(Store(home))
    path = Store(home).run_path(DAG, RUN)
    path.chmod(0)
    probe = ("import sys; from pathlib import Path; from flowctl.store import Store, StoreCorrupt\n"
             "try:\n    Store(Path(sys.argv[1])).read_run(sys.argv[2], sys.argv[3])\n"
             "except StoreCorrupt as exc:\n    print(exc)")
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, needs setpriv to drop the capability that ignores file modes")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    out = subprocess.run([*prefix, sys.executable, "-c", probe, str(home), DAG, RUN], capture_output=True,
                         text=True, timeout=30)
    assert str(path) in out.stdout and "cannot be read" in out.stdout, out.stdout + out.stderr


def test_transaction_touching_a_damaged_run_fails_and_leaves_it_unchanged(home: Path):
    """A transaction that reaches a damaged run file raises StoreCorrupt and writes nothing, that file included."""
    store = Store(home)
    make_run(store)
    make_run(store, run_id="healthy")
    path = store.run_path(DAG, RUN)
    damaged = path.read_bytes()[:-7]
    path.write_bytes(damaged)
    before = snapshot(home)

    with pytest.raises(StoreCorrupt) as err:
        with Store(home).transaction() as tx:
            ok = tx.run(DAG, "healthy")
            assert ok is not None
            ok.put_ti("extract", state="running")
            rf = tx.run(DAG, RUN)
            assert rf is not None  # not reached
            rf.update_run(state="failed")
    assert str(path) in str(err.value)
    assert path.read_bytes() == damaged
    assert snapshot(home) == before


def test_a_damaged_index_is_set_aside_and_rebuilt(home: Path):
    """The index is a hint: a damaged one is moved aside (its bytes kept) by the next
    commit that starts or ends a run, and rebuilt from the run files; readers
    meanwhile scan the run files."""
    store = Store(home)
    make_run(store)
    make_run(store, run_id="done", state="success")
    index = home / "state" / "index.json"
    garbage = b'{"_meta": {"1": {"schema": 1'
    index.write_bytes(garbage)
    assert Store(home).active_runs() == [(DAG, RUN)]
    with Store(home).transaction() as tx:
        tx.create_run(Run(DAG, "another"), [], {})
    aside = [p for p in (home / "state").iterdir() if p.name.startswith("index.json.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert Store(home).active_runs() == [(DAG, "another"), (DAG, RUN)]


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
            tx.run(DAG, RUN)
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


def test_temp_files_of_dead_writers_go_at_the_next_first_commit(home: Path):
    """A temp file whose writer is dead is removed by a process's first commit; a live one's stays."""
    store = Store(home)
    make_run(store)
    folder = store.run_path(DAG, RUN).parent
    dead = folder / f".{RUN}.json.999999999.1.tmp"
    live = folder / f".{RUN}.json.{os.getpid()}.1.tmp"
    dead.write_bytes(b"x")
    live.write_bytes(b"x")
    with Store(home).transaction() as tx:
        tx.set_dag_flags(DAG, paused=False)
    assert not dead.exists() and live.exists()


# --- guarded transitions ------------------------------------------------------------------


def test_transition_refuses_a_state_not_in_from(home: Path):
    """transition changes a TI only when its current state is in from_; a refused one changes nothing."""
    store = Store(home)
    make_run(store)  # extract and load are queued
    with store.transaction() as tx:
        rf = tx.run(DAG, RUN)
        assert rf is not None
        assert rf.transition("extract", from_={"scheduled", "none"}, state="running", pid=1) is False
        assert rf.ti("extract").state == "queued"
        assert rf.transition("missing", from_={"queued"}, state="running") is False
        assert rf.ti("missing") is None
        assert rf.transition("load", from_=frozenset({"queued"}), state="running") is True
        assert rf.ti("load").state == "running"
    data = Store(home).read_run(DAG, RUN)
    assert data is not None
    assert data.task_instances["extract"]["state"] == "queued"
    assert data.task_instances["extract"]["pid"] is None
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
            tx.create_run(Run(DAG, "other"), [], {})
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


# -- ids starting with a dot, Unicode ids, a damaged flags file ------------------------------------


def test_a_dag_id_starting_with_a_dot_is_listed_and_found_active(home: Path):
    """`.hidden` is a valid DAG id: its folder is listed and its active run found by a
    scan (an index rebuild), while the store's own temp files are never taken for runs."""
    store = Store(home)
    make_run(store, ".hidden", ".manual")
    make_run(store, "café", RUN, tasks=("tâche",))
    (store.runs_dir / ".hidden" / f".{RUN}.json.99999999.1.tmp").write_bytes(b"{")
    (store.runs_dir / ".dags.json.99999999.1.tmp").write_bytes(b"{")
    reader = Store(home)
    assert reader.dag_ids_with_runs() == [".hidden", "café"]
    assert reader.run_ids(".hidden") == [".manual"]
    assert reader.scan_active() == {(".hidden", ".manual"), ("café", RUN)}


def test_a_damaged_flags_file_is_named_never_read_as_no_flags(home: Path):
    """A damaged dags.json is not "nothing is paused": reading it raises StoreCorrupt
    naming the file, and the file is left as it is."""
    store = Store(home)
    with store.transaction() as tx:
        tx.set_dag_flags(DAG, paused=True)
    store.flags_path.write_bytes(b'{"x')
    for reader in (store, Store(home)):
        with pytest.raises(StoreCorrupt, match="dags.json is damaged"):
            reader.dag_flags()
        with pytest.raises(StoreCorrupt, match="dags.json"):
            reader.is_paused(DAG)
    assert store.flags_path.read_bytes() == b'{"x'


def test_a_flags_write_sets_a_damaged_file_aside(home: Path):
    """A commit that changes flags keeps the damaged dags.json (renamed, same bytes) and
    writes a new one; the warning names both files."""
    store = Store(home)
    store.ensure()
    store.flags_path.write_bytes(b'{"x')
    with store.transaction() as tx:
        tx.set_dag_flags(DAG, paused=True)
    aside = [p for p in store.root.iterdir() if p.name.startswith("dags.json.damaged-")]
    assert [p.read_bytes() for p in aside] == [b'{"x']
    assert Store(home).is_paused(DAG)
    assert any(str(aside[0]) in w and "pause them again" in w for w in store.warnings)
