"""The state store: runs, task instances, XCom and DAG flags in TinyDB files.

Layout under `<home>/state/`:

    index.json                 DAG flags (paused) and the set of active runs
    runs/<dag_id>/<run_id>.json one file per run: the run, its task instances,
                               its XCom and the DAG version it ran under
    .lock                      held by the one writer
    seq                        bumped on every commit, so readers can tell a change

Why this shape:
- A commit rewrites only the files it touched, so it costs the same with 100
  or 100,000 task instances of history (TinyDB's own JSONStorage rewrites one
  big file in place: torn by a crash, and slower as history grows).
- Every write goes to a new file that is fsynced and `os.replace`d over the old
  one, so a reader (no lock needed) or a crash only ever sees whole files.
- One writer at a time under a file lock that dies with its process.
- A file that does not parse, or has an unknown schema, raises `StoreCorrupt`
  naming it, and is never overwritten.

A commit that touches several files orders its writes so that a crash
between them loses nothing: a new run is added to the index before its file
is written; a finished run leaves the index after its file is written. The
index is a hint that `flowctl doctor` can rebuild from the run files.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from flowctl.errors import StoreCorrupt

SCHEMA_VERSION = 1
_DIR_MODE = 0o700
_FILE_MODE = 0o600


_sync = getattr(os, "fdatasync", os.fsync)  # the data and its size; enough before a rename


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write `data` to a new file beside `path` and rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            _sync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents readable by the user only (0700)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            pass


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class FileCache:
    """Parsed files keyed by (inode, mtime, size): each replace makes a new
    inode, so an unchanged stamp means unchanged content."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def read(self, path: Path) -> dict[str, Any] | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            self._entries.pop(path, None)
            return None
        stamp = _stamp(st)
        hit = self._entries.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        data = parse_state_file(path)
        self._entries[path] = (stamp, data)
        return data

    def put(self, path: Path, data: dict[str, Any]) -> None:
        try:
            self._entries[path] = (_stamp(path.stat()), data)
        except FileNotFoundError:
            self._entries.pop(path, None)

    def written(self, path: Path) -> dict[str, Any] | None:
        """What this process itself last wrote to `path`, if the file is still that."""
        hit = self._entries.get(path)
        if hit is None:
            return None
        try:
            return hit[1] if _stamp(path.stat()) == hit[0] else None
        except FileNotFoundError:
            return None

    def forget(self, path: Path) -> None:
        self._entries.pop(path, None)


def parse_state_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    try:
        data = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreCorrupt(
            f"state file {path} is damaged ({exc}); it was left as it is - "
            f"move it aside and run `flowctl doctor`"
        ) from None
    if not isinstance(data, dict):
        raise StoreCorrupt(f"state file {path} is damaged (not a JSON object); it was left as it is")
    meta = data.get("_meta")
    entry = meta.get("1") if isinstance(meta, dict) else None
    schema = entry.get("schema") if isinstance(entry, dict) else None
    if schema != SCHEMA_VERSION:
        raise StoreCorrupt(
            f"state file {path} has schema version {schema!r}; this flowctl reads "
            f"version {SCHEMA_VERSION}"
        )
    return data


class BufferedStorage(Storage):
    """A TinyDB storage that reads once and writes nothing until `flush()`,
    which replaces the file atomically. One per file per transaction."""

    def __init__(self, path: Path, data: dict[str, Any] | None, kind: str) -> None:
        self.path = path
        self.data = data if data is not None else {"_meta": {"1": {"schema": SCHEMA_VERSION, "kind": kind}}}
        self.dirty = data is None

    def read(self) -> dict[str, Any]:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = True

    def flush(self, fsync: bool = True) -> None:
        if self.dirty:
            private_dir(self.path.parent)
            atomic_write(self.path, orjson.dumps(self.data), fsync=fsync)
            self.dirty = False


def _open_db(path: Path, data: dict[str, Any] | None, kind: str) -> TinyDB:
    return TinyDB(path, storage=lambda p: BufferedStorage(Path(p), data, kind))


def owner_identity() -> dict[str, Any]:
    """This process, as a run owner: pid plus its start time, so a reused pid
    is not mistaken for it."""
    return {"pid": os.getpid(), "started": process_start_time(os.getpid()), "hostname": socket.gethostname()}


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux clock ticks), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
        return raw.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_alive(owner: dict[str, Any] | None) -> bool:
    if not owner:
        return False
    if owner.get("hostname") not in (None, socket.gethostname()):
        return True  # another machine's process: we cannot tell, so leave it be
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = owner.get("started")
    return started is None or process_start_time(pid) in (None, started)


class Store:
    """The one place that remembers. Readers take no lock; writers use `transaction()`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "state"
        self.runs_dir = self.root / "runs"
        self.index_path = self.root / "index.json"
        self.seq_path = self.root / "seq"
        self.cache = FileCache()
        self._lock = None
        self._paths: dict[tuple[str, str], Path] = {}
        self._own_seq: int | None = None  #: the commit counter as our last commit left it
        self._last_written: set[Path] = set()  #: the files our last commit wrote

    # -- paths --------------------------------------------------------------

    def ensure(self) -> None:
        private_dir(self.runs_dir)

    def run_path(self, dag_id: str, run_id: str) -> Path:
        key = (dag_id, run_id)
        path = self._paths.get(key)
        if path is None:
            path = self._paths[key] = self.runs_dir / dag_id / f"{run_id}.json"
        return path

    def reconcile_index(self) -> list[tuple[str, str]]:
        """Make the index list every active run written after it. Index writes are
        not fsynced (it is a hint), so after a power loss a run file may be newer
        than the index; only those files are read. Returns the runs added or dropped."""
        try:
            since = self.index_path.stat().st_mtime - 2.0
        except FileNotFoundError:
            since = 0.0
        indexed = set(self.active_runs())
        active, finished = set(), set()
        for dag_id in self.dag_ids_with_runs():
            folder = self.runs_dir / dag_id
            for entry in os.scandir(folder):
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                key = (dag_id, entry.name[:-5])
                if entry.stat().st_mtime < since and key not in indexed:
                    continue
                try:
                    data = self.read_run(*key)
                except StoreCorrupt:
                    continue
                state = data.run.get("state") if data else None
                (active if state in ("queued", "running") else finished).add(key)
        wrong = (active - indexed) | (finished & indexed)
        if wrong:
            with self.transaction() as tx:
                for key in sorted(wrong):
                    tx._set_active(*key, key in active)
        return sorted(wrong)

    def log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> Path:
        return self.home / "logs" / dag_id / run_id / task_id / f"{try_number}.log"

    # -- reading (no lock) -----------------------------------------------------

    def read_index(self) -> dict[str, Any]:
        data = self.cache.read(self.index_path)
        return data or {}

    def dag_flags(self) -> dict[str, dict[str, Any]]:
        return {d["dag_id"]: d for d in self.read_index().get("dags", {}).values()}

    def is_paused(self, dag_id: str) -> bool:
        return bool(self.dag_flags().get(dag_id, {}).get("paused", False))

    def active_runs(self) -> list[tuple[str, str]]:
        return [(d["dag_id"], d["run_id"]) for d in self.read_index().get("active", {}).values()]

    def run_ids(self, dag_id: str) -> list[str]:
        folder = self.runs_dir / dag_id
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json") and not n.startswith("."))

    def dag_ids_with_runs(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.runs_dir) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def read_run(self, dag_id: str, run_id: str) -> RunData | None:
        data = self.cache.read(self.run_path(dag_id, run_id))
        return RunData(data) if data is not None else None

    def seq(self) -> int:
        """The commit counter; it only has to change when the state does."""
        try:
            return int(self.seq_path.read_bytes() or 0)
        except (OSError, ValueError):
            return -1

    @property
    def wake_path(self) -> Path:
        return self.home / "scheduler.wake"

    def wake_scheduler(self) -> None:
        """Poke a running scheduler so it looks at the store now (a command
        changed it); nothing happens when no scheduler listens."""
        try:
            fd = os.open(self.wake_path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no FIFO, or no reader: no scheduler to wake
            return
        try:
            os.write(fd, b"!")
        except OSError:
            pass
        finally:
            os.close(fd)

    def bump_seq(self) -> None:
        """Called under the writer lock; a fixed-width write in place is enough
        for a change signal (the state itself is in the atomically replaced files)."""
        value = max(self.seq(), 0) + 1
        fd = os.open(self.seq_path, os.O_WRONLY | os.O_CREAT, _FILE_MODE)
        try:
            os.pwrite(fd, f"{value:020d}".encode(), 0)
        finally:
            os.close(fd)
        self._own_seq = value

    # -- writing ------------------------------------------------------------

    @contextmanager
    def transaction(self, timeout: float = 30.0) -> Iterator[Transaction]:
        """Hold the writer lock; on a clean exit, write every touched file."""
        from filelock import FileLock, Timeout

        self.ensure()
        if self._lock is None:
            self._lock = FileLock(str(self.root / ".lock"), mode=_FILE_MODE)
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            raise StoreCorrupt(
                f"another flowctl process has held the state lock for {timeout:g} s ({self.root / '.lock'})"
            ) from None
        tx = Transaction(self)
        try:
            yield tx
            tx.commit()
        except BaseException:
            tx.discard()
            raise
        finally:
            self._lock.release()


def _copy_tables(data: dict[str, Any]) -> dict[str, Any]:
    """A transaction's private copy: documents are copied; values inside them are
    replaced, never mutated, so two levels suffice."""
    return {name: {k: dict(doc) for k, doc in table.items()} for name, table in data.items()}


def _active_pairs(index_data: dict[str, Any]) -> set[tuple[str, str]]:
    """The active runs of an index, by name (TinyDB may reuse a removed doc id)."""
    return {(d["dag_id"], d["run_id"]) for d in index_data.get("active", {}).values()}


class RunData:
    """A read-only view of one run file."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def run(self) -> dict[str, Any]:
        return next(iter(self.data.get("run", {}).values()), {})

    @property
    def task_instances(self) -> dict[str, dict[str, Any]]:
        return {doc["task_id"]: doc for doc in self.data.get("task_instances", {}).values()}

    @property
    def xcoms(self) -> list[dict[str, Any]]:
        return list(self.data.get("xcom", {}).values())

    @property
    def dag_version(self) -> dict[str, Any]:
        return next(iter(self.data.get("dag_version", {}).values()), {})


class RunFile:
    """One run's TinyDB inside a transaction, with the lookups the scheduler needs.

    Task instances are addressed by task id straight in the storage's document
    table (TinyDB's own update rebuilds the whole table per call, which made a
    tick cost grow with the square of a run's size); the file format is TinyDB's.
    """

    def __init__(self, db: TinyDB, storage: BufferedStorage, created: bool) -> None:
        self.db = db
        self.storage = storage
        self.created = created
        table = storage.data.setdefault("task_instances", {})
        self._ti_ids = {doc["task_id"]: key for key, doc in table.items()}
        self._next_ti = max((int(k) for k in table), default=0) + 1

    @property
    def _tis(self) -> dict[str, dict[str, Any]]:
        return self.storage.data.setdefault("task_instances", {})

    @property
    def run(self) -> dict[str, Any]:
        docs = self.storage.data.get("run", {})
        return dict(next(iter(docs.values()))) if docs else {}

    def update_run(self, **fields: Any) -> None:
        table = self.storage.data.setdefault("run", {})
        if table:
            next(iter(table.values())).update(fields)
        else:
            table["1"] = dict(fields)
        self.storage.dirty = True

    def ti(self, task_id: str) -> dict[str, Any] | None:
        key = self._ti_ids.get(task_id)
        return dict(self._tis[key]) if key is not None else None

    def tis(self) -> dict[str, dict[str, Any]]:
        return {doc["task_id"]: dict(doc) for doc in self._tis.values()}

    def put_ti(self, task_id: str, **fields: Any) -> None:
        key = self._ti_ids.get(task_id)
        if key is None:
            key = str(self._next_ti)
            self._next_ti += 1
            self._ti_ids[task_id] = key
            self._tis[key] = {"task_id": task_id}
        self._tis[key].update(fields)
        self.storage.dirty = True

    def transition(self, task_id: str, from_: set[str] | frozenset[str], **fields: Any) -> bool:
        """Update a task instance only if its state is one of `from_`; a stale
        decision (the user cleared or marked it meanwhile) is refused."""
        current = self.ti(task_id)
        state = current.get("state", "none") if current else "none"
        if state not in from_:
            return False
        self.put_ti(task_id, **fields)
        return True

    def set_xcom(self, task_id: str, key: str, value: Any) -> None:
        from tinydb import Query

        q = Query()
        table = self.db.table("xcom")
        table.upsert({"task_id": task_id, "key": key, "value": value}, (q.task_id == task_id) & (q.key == key))

    def clear_xcom(self, task_id: str) -> None:
        from tinydb import Query

        self.db.table("xcom").remove(Query().task_id == task_id)

    def set_dag_version(self, version: dict[str, Any]) -> None:
        table = self.db.table("dag_version")
        table.truncate()
        table.insert(version)


class Transaction:
    """The files touched under the writer lock, written in a crash-safe order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._trusted = store._own_seq is not None and store.seq() == store._own_seq
        self._runs: dict[tuple[str, str], RunFile] = {}
        self._index: TinyDB | None = None
        self._index_storage: BufferedStorage | None = None
        self._active_before: set[str] = set()

    def _read(self, path: Path) -> dict[str, Any] | None:
        """A private copy of a file's content, current under the lock.

        A file this process wrote in its own last commit, when no other process
        has committed since (the commit counter still holds the value we wrote),
        is exactly what we hold in memory, and a copy of it will do. Any other
        file is read afresh: the readers' cache keys on (inode, mtime, size),
        which quick replaces can repeat."""
        if self._trusted and path in self.store._last_written:
            data = self.store.cache.written(path)
            if data is not None:
                return _copy_tables(data)
        try:
            return parse_state_file(path)
        except FileNotFoundError:
            return None

    # -- the index ----------------------------------------------------------

    def _index_db(self) -> TinyDB:
        if self._index is None:
            data = self._read(self.store.index_path)
            storage_box: list[BufferedStorage] = []

            def make(p: str) -> BufferedStorage:
                s = BufferedStorage(Path(p), data, "index")
                storage_box.append(s)
                return s

            self._index = TinyDB(self.store.index_path, storage=make)
            self._index_storage = storage_box[0]
            self._active_before = _active_pairs(self._index_storage.data)
        return self._index

    def set_dag_flags(self, dag_id: str, **flags: Any) -> None:
        from tinydb import Query

        table = self._index_db().table("dags")
        q = Query()
        existing = table.get(q.dag_id == dag_id)
        if existing is None:
            table.insert({"dag_id": dag_id, **flags})
        else:
            table.update(flags, doc_ids=[existing.doc_id])

    def _set_active(self, dag_id: str, run_id: str, active: bool) -> None:
        from tinydb import Query

        table = self._index_db().table("active")
        q = Query()
        existing = table.get((q.dag_id == dag_id) & (q.run_id == run_id))
        if active and existing is None:
            table.insert({"dag_id": dag_id, "run_id": run_id})
        elif not active and existing is not None:
            table.remove(doc_ids=[existing.doc_id])

    # -- runs ---------------------------------------------------------------

    def run(self, dag_id: str, run_id: str, *, create: bool = False) -> RunFile | None:
        """The run's file, read fresh under the lock; None if it does not exist
        (unless `create`)."""
        key = (dag_id, run_id)
        if key in self._runs:
            return self._runs[key]
        path = self.store.run_path(dag_id, run_id)
        data = self._read(path)
        if data is None and not create:
            return None
        storage = BufferedStorage(path, data, "run")
        db = TinyDB(path, storage=lambda p: storage)
        rf = RunFile(db, storage, created=data is None)
        self._runs[key] = rf
        return rf

    # -- commit -------------------------------------------------------------

    def commit(self) -> None:
        for (dag_id, run_id), rf in self._runs.items():
            state = rf.run.get("state")
            self._set_active(dag_id, run_id, state in ("queued", "running"))
        index = self._index_storage
        active_after = _active_pairs(index.data) if index else set()
        grows = index is not None and index.dirty and not (active_after <= self._active_before)
        # 1. a run that became active is in the index before its file exists
        if index is not None and grows:
            self._flush_index(final=False)
        # 2. the run files
        for rf in self._runs.values():
            if rf.storage.dirty:
                rf.storage.flush()
            self.store.cache.put(rf.storage.path, rf.storage.data)
        # 3. a run that finished leaves the index after its file was written
        index_written = index is not None and index.dirty
        if index_written:
            self._flush_index(final=True)
        if any(True for _ in self._runs) or index is not None:
            self.store.bump_seq()
        # what the cache now holds exactly as it is on disk, by our own hand
        self.store._last_written = {rf.storage.path for rf in self._runs.values()}
        if index_written:
            self.store._last_written.add(self.store.index_path)

    def _flush_index(self, final: bool) -> None:
        assert self._index_storage is not None
        if not final:
            # union of before and after: nothing active may be missing mid-commit
            data = json.loads(json.dumps(self._index_storage.data))
            before = self.store.cache.read(self.store.index_path) or {}
            union = sorted(_active_pairs(data) | _active_pairs(before))
            data["active"] = {str(i): {"dag_id": d, "run_id": r} for i, (d, r) in enumerate(union, 1)}
            atomic_write(self.store.index_path, orjson.dumps(data), fsync=False)
            return
        self._index_storage.flush(fsync=False)
        self.store.cache.put(self.store.index_path, self._index_storage.data)

    def discard(self) -> None:
        self.store._own_seq = None  # our cache may hold what was never written
        self.store._last_written = set()
        for rf in self._runs.values():
            self.store.cache.forget(rf.storage.path)
        self.store.cache.forget(self.store.index_path)
