"""The state store: runs, task instances, XCom and DAG flags, as files.

Layout (paths from `home.Home`):

    state/dags.json                  DAG flags (paused)
    state/pools.json                 pools: name -> slots, description (`flowctl pools`)
    state/slots.json                 the slot ledger: which process holds which pool
                                     slots for which try (rebuilt from the live
                                     processes; see `Transaction.hold_slots`)
    state/index.json                 the active runs: a hint, rebuilt from the run files
    state/runs/<dag>/<run>.json      a run's TinyDB document: the run, its task
                                     instances, XCom, the DAG version it ran under
    state/runs/<dag>/<run>.journal   the changes committed since that document was
                                     written, one JSON line per commit
    state/.lock  state/seq           the writer lock; a commit counter readers watch

Why a document plus a journal: a commit appends what changed (one fsynced
line), so it costs the same for a 10-task run as for a 10,000-task one; the
journal is folded into a new document (written to a new file, fsynced,
renamed over the old one, folder fsynced) when the journal has grown as
large as the document, so folding costs O(1) per change. A run that ends is
written as a document with its last change in it, and its journal removed.

What a crash can do, and what it cannot:
- A journal line carries a checksum; a torn last line (a writer killed
  mid-append) was never announced, and is ignored by readers and cut off by
  the next writer. A bad line followed by good ones is damage: reported.
- A document is replaced atomically, so it is whole or the previous one. It
  records the last journal line folded into it; older lines are skipped, so a
  crash between renaming the document and truncating the journal loses nothing.
- New runs and new folders are fsynced with their folder, so a run that a
  command reported survives a power cut.
- A line that only hands tries over or says they started (queued, running)
  is written, not forced to disk: the next line of its journal that is
  forced carries it. A power cut can take it back, and the tries it named
  died with the machine: they are queued again. Every result, XCom, run
  state and expansion is on disk before the commit returns. Likewise the
  index dropping a finished run: a power cut can bring the entry back, and a
  finished run listed as active is only looked at and dropped again.
- A file that does not parse, cannot be read, or has an unknown schema raises
  `StoreCorrupt` naming it; it is never overwritten, and other runs go on.
- Readers take no lock and see whole commits only. One writer at a time,
  under a file lock that dies with its process.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from flowctl.errors import StoreCorrupt
from flowctl.home import Home, is_valid_id
from flowctl.procs import owner_alive, owner_identity, pid_alive, process_start_time
from flowctl.records import Run, RunKey, TaskInstance, TaskKey
from flowctl.states import FINISHED, RUN_FINISHED, TaskState, summary_state

__all__ = [
    "SCHEMA_VERSION", "Store", "StoredRun", "StoreCorrupt", "atomic_write", "private_dir",
    "owner_alive", "owner_identity", "process_start_time", "parse_state_file",
]

SCHEMA_VERSION = 1
_DIR_MODE = 0o700
_FILE_MODE = 0o600
FOLD_MIN_BYTES = 256 * 1024  #: a journal is folded once it is this large and as large as its document
_PROGRESS = (TaskState.QUEUED, TaskState.RUNNING)
_TEMP = re.compile(r"^\..+\.(\d+)\.\d+\.tmp$")


def _is_run_file(name: str) -> bool:
    """A run's document: `<run_id>.json` (a run id may start with `.`; a temporary
    file ends with `.tmp`, a file set aside with `.damaged-<time>`)."""
    return name.endswith(".json") and not _TEMP.match(name)


# -- files -----------------------------------------------------------------------------


def _sync(fd: int) -> None:
    """Force a file's data and size to disk: enough before a rename or an announcement."""
    getattr(os, "fdatasync", os.fsync)(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, fsync: bool = True, keep_rename: bool = True) -> None:
    """Write `data` to a new file beside `path` and rename it over `path`;
    with `fsync`, the data and (with `keep_rename`) the rename are durable
    when this returns. Without `keep_rename` a power cut may bring the old
    file back, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            _sync(fd)
    except BaseException:
        os.close(fd)
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    os.close(fd)
    os.replace(tmp, path)
    if fsync and keep_rename:
        fsync_dir(path.parent)


def private_dir(path: Path, durable: bool = False) -> None:
    """Create `path` and any missing parents readable by the user only (0700);
    with `durable` (state folders), each new folder is made durable in its parent."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            continue
        if durable:
            fsync_dir(d.parent)


def _damaged(path: Path, why: str) -> StoreCorrupt:
    return StoreCorrupt(f"state file {path} is damaged ({why}); it was left as it is - "
                        f"run `flowctl doctor` (it says what to do)")


def _read_bytes(path: Path) -> bytes | None:
    """A file's bytes; None if it does not exist; StoreCorrupt if it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _damaged(path, "a folder where a file should be") from None
    except OSError as exc:
        raise StoreCorrupt(f"state file {path} cannot be read ({exc.strerror}); "
                           f"fix its permissions (chmod 600) or run `flowctl doctor`") from None


def parse_state_file(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    """A state document, checked for its schema version."""
    if raw is None:
        raw = _read_bytes(path)
        if raw is None:
            raise FileNotFoundError(path)
    try:
        data = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(path, str(exc)) from None
    if not isinstance(data, dict):
        raise _damaged(path, "not a JSON object")
    meta = data.get("_meta")
    entry = meta.get("1") if isinstance(meta, dict) else None
    schema = entry.get("schema") if isinstance(entry, dict) else None
    if schema != SCHEMA_VERSION:
        raise StoreCorrupt(f"state file {path} has schema version {schema!r}; this flowctl reads "
                           f"version {SCHEMA_VERSION}; it was left as it is")
    return data


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _encode_line(entry: dict[str, Any]) -> bytes:
    body = orjson.dumps(entry)
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _decode_lines(data: bytes, path: Path) -> tuple[list[dict[str, Any]], int]:
    """The whole lines of a journal chunk and the bytes they take. A bad line
    at the end is a write in progress or torn by a crash: not yet there. A bad
    line followed by good ones is damage."""
    out: list[dict[str, Any]] = []
    pos = 0
    end = len(data)
    while pos < end:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl]
        entry = None
        if len(line) > 9 and line[8:9] == b" ":
            body = line[9:]
            try:
                if int(line[:8], 16) == zlib.crc32(body):
                    entry = orjson.loads(body)
            except ValueError:
                entry = None
        if entry is None:
            if data.find(b"\n", nl + 1) >= 0 and data[nl + 1:].strip():
                raise _damaged(path, f"journal line at byte {pos} is damaged")
            break
        out.append(entry)
        pos = nl + 1
    return out, pos


def _ledger_bytes(entries: list[dict[str, Any]]) -> bytes:
    holders = orjson.dumps(entries)
    return orjson.dumps({"_meta": {"1": {"schema": SCHEMA_VERSION, "kind": "slots"}},
                         "holders": orjson.Fragment(holders), "crc": zlib.crc32(holders)})


def _parse_ledger(raw: bytes) -> list[dict[str, Any]] | None:
    """The ledger's entries, or None when it is not whole (a write in progress, or torn)."""
    try:
        data = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("holders"), list):
        return None
    holders = data["holders"]
    if zlib.crc32(orjson.dumps(holders)) != data.get("crc"):
        return None
    return [h for h in holders if isinstance(h, dict)]


# -- a run as read ----------------------------------------------------------------------


def mapped_summary(instances: list[TaskInstance]) -> dict[str, Any]:
    """One document for a mapped task's instances: the state a grid shows, the
    count of each state, and the span of their dates."""
    states = [ti.state for ti in instances]
    first = min(instances, key=lambda ti: ti.map_index)
    starts = [ti.start_date for ti in instances if ti.start_date]
    ends = [ti.end_date for ti in instances if ti.end_date]
    state = summary_state(states)
    errors = [f"[{ti.map_index}] {ti.error}" for ti in sorted(instances, key=lambda t: t.map_index)
              if ti.error and ti.state == "failed"]
    return {
        "task_id": first.task_id, "map_index": -1, "state": state, "mapped": True, "map_count": len(instances),
        "map_states": dict(Counter(states)), "try_number": max(ti.try_number for ti in instances),
        "operator": first.operator, "max_tries": first.max_tries,
        "start_date": min(starts) if starts else None,
        "end_date": max(ends) if ends and state in FINISHED else None,
        "error": "; ".join(errors[:3]) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else "") or None,
        "fingerprint": first.fingerprint, "success_fingerprint": first.success_fingerprint,
    }


@dataclass
class StoredRun:
    """One run as committed: the document with its journal applied.

    Typed parts: `record`, `tis`, `xcom`, `version`. For readers that think in
    documents: `run`, `task_instances`, `xcoms`, `dag_version` (copies)."""

    key: RunKey
    record: Run
    tis: dict[TaskKey, TaskInstance]
    xcom: dict[tuple[TaskKey, str], Any]
    version: dict[str, Any]
    folded: int = 0  #: the last journal line folded into the document
    applied: int = 0  #: the last journal line applied
    _docs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: each task instance's XCom keys, so its values are found (and cleared) without a scan of the run's
    xkeys: dict[TaskKey, set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key, xkey in self.xcom:
            self.xkeys.setdefault(key, set()).add(xkey)

    def xcom_of(self, key: TaskKey) -> dict[str, Any]:
        """One task instance's XCom values, by key."""
        return {x: self.xcom[(key, x)] for x in self.xkeys.get(key, ())}

    # -- documents for readers ------------------------------------------------------

    @property
    def run(self) -> dict[str, Any]:
        return self.record.to_doc()

    @property
    def task_instances(self) -> dict[str, dict[str, Any]]:
        """Task instances by task id. A mapped task's instances are summed up in
        one document (`map_states`, `map_count`); `tis` has each of them."""
        cached = self._docs.get("tis")
        if cached is None:
            cached = {}
            mapped: dict[str, list[TaskInstance]] = {}
            for key, ti in self.tis.items():
                if key.map_index < 0:
                    cached[key.task_id] = ti.to_doc()
                else:
                    mapped.setdefault(key.task_id, []).append(ti)
            for task_id, instances in mapped.items():
                cached[task_id] = mapped_summary(instances)
            self._docs["tis"] = cached
        return cached

    @property
    def xcoms(self) -> list[dict[str, Any]]:
        return [{"task_id": k.task_id, "map_index": k.map_index, "key": x, "value": v}
                for (k, x), v in self.xcom.items()]

    @property
    def dag_version(self) -> dict[str, Any]:
        return self.version

    # -- building --------------------------------------------------------------------

    @classmethod
    def from_document(cls, key: RunKey, data: dict[str, Any]) -> StoredRun:
        run_docs = data.get("run") or {}
        record = Run.from_doc(next(iter(run_docs.values()))) if run_docs else Run(key.dag_id, key.run_id)
        tis: dict[TaskKey, TaskInstance] = {}
        for doc in (data.get("task_instances") or {}).values():
            ti = TaskInstance.from_doc(doc)
            tis[ti.key] = ti
        xcom: dict[tuple[TaskKey, str], Any] = {}
        for doc in (data.get("xcom") or {}).values():
            xcom[(TaskKey(doc["task_id"], doc.get("map_index", -1)), doc["key"])] = doc.get("value")
        version: dict[str, Any] = next(iter((data.get("dag_version") or {}).values()), {})
        meta = (data.get("_meta") or {}).get("1") or {}
        folded = int(meta.get("journal", 0) or 0)
        return cls(key, record, tis, xcom, version, folded, folded)

    def to_document(self) -> dict[str, Any]:
        return {
            "_meta": {"1": {"schema": SCHEMA_VERSION, "kind": "run", "journal": self.applied}},
            "run": {"1": self.record.to_doc()},
            "task_instances": {str(i): ti.to_doc() for i, ti in enumerate(self.tis.values(), 1)},
            "xcom": {str(i): {"task_id": k.task_id, "map_index": k.map_index, "key": x, "value": v}
                     for i, ((k, x), v) in enumerate(self.xcom.items(), 1)},
            "dag_version": {"1": self.version} if self.version else {},
        }

    def apply(self, entry: dict[str, Any]) -> set[TaskKey]:
        """Apply one journal entry; returns the task instances it touched."""
        n = int(entry.get("n", 0))
        if n <= self.applied:
            return set()
        touched: set[TaskKey] = set()
        run = entry.get("run")
        if run:
            self.record.update(run)
        for task_id, map_index in entry.get("drop", ()):  # a mapped task's place-holder, expanded
            key = TaskKey(task_id, map_index)
            self.tis.pop(key, None)
            touched.add(key)
        for task_id, map_index, changes in entry.get("tis", ()):
            key = TaskKey(task_id, map_index)
            ti = self.tis.get(key)
            if ti is None:
                ti = self.tis[key] = TaskInstance(task_id, map_index)
            ti.update(changes)
            touched.add(key)
        for task_id, map_index in entry.get("xcom_clear", ()):
            key = TaskKey(task_id, map_index)
            for xkey in self.xkeys.pop(key, ()):
                self.xcom.pop((key, xkey), None)
        for task_id, map_index, xkey, value in entry.get("xcom", ()):
            key = TaskKey(task_id, map_index)
            self.xcom[(key, xkey)] = value
            self.xkeys.setdefault(key, set()).add(xkey)
        if "version" in entry:
            self.version = entry["version"]
        self.applied = n
        self._docs.clear()
        return touched

    def copy(self) -> StoredRun:
        return StoredRun(self.key, Run.from_doc(self.record.to_doc()),
                         {k: ti.copy() for k, ti in self.tis.items()}, dict(self.xcom),
                         dict(self.version), self.folded, self.applied)


@dataclass
class _Cached:
    base_stamp: tuple[int, int, int]
    journal_ino: int | None
    offset: int  #: bytes of the journal applied
    run: StoredRun
    journal_listed: bool = False  #: this process made the journal's folder entry durable


# -- the store -----------------------------------------------------------------------------


class Store:
    """The one place that remembers. Readers take no lock; writers use `transaction()`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.paths = Home(home)
        self.root = self.paths.state
        self.runs_dir = self.paths.runs
        self.index_path = self.paths.index
        self.flags_path = self.root / "dags.json"
        self.pools_path = self.root / "pools.json"
        self.slots_path = self.root / "slots.json"
        self._slots_cache: tuple[int | None, list[dict[str, Any]]] = (None, [])
        self._ledger: tuple[int | None, int] = (None, 0)
        self._pools_cache: tuple[tuple[int, int, int] | None, dict[str, dict[str, Any]]] = (None, {})
        self.seq_path = self.paths.seq
        self._cache: dict[RunKey, _Cached] = {}
        self._paths: dict[tuple[str, str], tuple[Path, Path]] = {}
        self._lock: WriterLock | None = None
        self._seq: tuple[int | None, int] = (None, 0)
        self._own_seq: int | None = None  #: the commit counter as our last commit left it
        self._swept = False
        self.warnings: list[str] = []

    # -- paths -------------------------------------------------------------------------

    def ensure(self) -> None:
        private_dir(self.runs_dir, durable=True)

    def run_path(self, dag_id: str, run_id: str) -> Path:
        return self._run_paths(dag_id, run_id)[0]

    def journal_path(self, dag_id: str, run_id: str) -> Path:
        return self._run_paths(dag_id, run_id)[1]

    def _run_paths(self, dag_id: str, run_id: str) -> tuple[Path, Path]:
        key = (dag_id, run_id)
        hit = self._paths.get(key)
        if hit is None:
            hit = self._paths[key] = (self.paths.run_file(dag_id, run_id), self.paths.journal_file(dag_id, run_id))
        return hit

    def log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Path:
        return self.paths.log_file(dag_id, run_id, task_id, try_number, map_index)

    # -- reading (no lock) ---------------------------------------------------------------

    def read_run(self, dag_id: str, run_id: str) -> StoredRun | None:
        """The run as committed, or None if it does not exist. StoreCorrupt
        when its file is damaged or unreadable."""
        return self._load(RunKey(dag_id, run_id))

    def refresh(self, dag_id: str, run_id: str) -> tuple[StoredRun | None, set[TaskKey]]:
        """The run as committed, and the task instances that changed since this
        process last looked (all of them when the document was read anew)."""
        touched: set[TaskKey] = set()
        return self._load(RunKey(dag_id, run_id), touched), touched

    def _load(self, key: RunKey, refresh_touched: set[TaskKey] | None = None) -> StoredRun | None:
        base = self.run_path(*key)
        journal = self.journal_path(*key)
        for _ in range(20):  # a fold may replace the document while we read: read again
            try:
                st = os.stat(base)
            except FileNotFoundError:
                self._cache.pop(key, None)
                return None
            except OSError as exc:
                raise StoreCorrupt(f"state file {base} cannot be read ({exc.strerror})") from None
            stamp = _stamp(st)
            try:
                jst = os.stat(journal)
                j_ino, j_size = jst.st_ino, jst.st_size
            except FileNotFoundError:
                j_ino, j_size = None, 0
            hit = self._cache.get(key)
            if hit is not None and hit.base_stamp == stamp and (
                    j_ino == hit.journal_ino or hit.offset == 0) and j_size >= hit.offset:
                if j_size > hit.offset:
                    self._read_journal(journal, hit, refresh_touched)
                    hit.journal_ino = j_ino
                return hit.run
            raw = _read_bytes(base)
            if raw is None:
                continue
            data = parse_state_file(base, raw)
            try:
                if _stamp(os.stat(base)) != stamp:
                    continue
            except FileNotFoundError:
                continue
            run = StoredRun.from_document(key, data)
            entry = _Cached(stamp, j_ino, 0, run)
            if j_size:
                self._read_journal(journal, entry, None)
            try:
                if _stamp(os.stat(base)) != stamp:
                    continue  # folded meanwhile: the journal we read may be the next one's
            except FileNotFoundError:
                continue
            self._cache[key] = entry
            if refresh_touched is not None:
                refresh_touched.update(run.tis)
            return run
        raise StoreCorrupt(f"state file {base} keeps changing while it is read; try again")

    def _read_journal(self, path: Path, entry: _Cached, touched: set[TaskKey] | None) -> None:
        try:
            with open(path, "rb") as f:
                f.seek(entry.offset)
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreCorrupt(f"state file {path} cannot be read ({exc.strerror})") from None
        lines, used = _decode_lines(data, path)
        for line in lines:
            changed = entry.run.apply(line)
            if touched is not None:
                touched.update(changed)
        entry.offset += used

    def run_ids(self, dag_id: str) -> list[str]:
        try:
            names = os.listdir(self.paths.dag_runs(dag_id))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StoreCorrupt(f"the runs of {dag_id} cannot be listed ({exc.strerror})") from None
        return sorted(n[:-5] for n in names if _is_run_file(n))

    def dag_ids_with_runs(self) -> list[str]:
        """The DAG folders under runs/. An id may start with `.` (`.hidden`), so a
        folder is told by being one, not by its name; the store's temporary files
        are files (`_TEMP`) and never named so."""
        try:
            with os.scandir(self.runs_dir) as entries:
                return sorted(e.name for e in entries if e.is_dir() and is_valid_id(e.name))
        except FileNotFoundError:
            return []

    def _read_small(self, path: Path) -> dict[str, Any]:
        raw = _read_bytes(path)
        if raw is None:
            return {}
        return parse_state_file(path, raw)

    def read_index(self) -> dict[str, Any]:
        return self._read_small(self.index_path)

    def dag_flags(self) -> dict[str, dict[str, Any]]:
        """DAG id -> flags (paused). Kept in dags.json; an older home kept them in the index.

        A dags.json that is damaged or cannot be read raises StoreCorrupt naming
        it, as pools.json does: read as "no flags", it would unpause every DAG.
        (A damaged index is only a hint lost; an old home's flags in it are too.)"""
        data = self._read_small(self.flags_path)
        dags = data.get("dags") or {}
        if not isinstance(dags, dict):
            raise _damaged(self.flags_path, "its `dags` is not a JSON object")
        if not data:
            try:
                dags = self._read_small(self.index_path).get("dags") or {}
            except StoreCorrupt as exc:
                self.warnings.append(str(exc))
                return {}
            dags = dags if isinstance(dags, dict) else {}
        return {d["dag_id"]: d for d in dags.values() if isinstance(d, dict) and "dag_id" in d}

    def pools(self) -> dict[str, dict[str, Any]]:
        """Pool name -> {"pool", "slots", "description"} as `flowctl pools set` stored them
        (`default_pool` only when it was set; its size is otherwise the worker count)."""
        try:
            stamp: tuple[int, int, int] | None = _stamp(os.stat(self.pools_path))
        except FileNotFoundError:
            return {}
        except OSError:
            stamp = None
        if stamp is not None and self._pools_cache[0] == stamp:
            return dict(self._pools_cache[1])
        data = self._read_small(self.pools_path)
        pools = {d["pool"]: d for d in (data.get("pools") or {}).values() if isinstance(d, dict) and "pool" in d}
        self._pools_cache = (stamp, pools)
        return dict(pools)

    def slot_holders(self, locked: bool = False) -> list[dict[str, Any]]:
        """The slot ledger: one entry per try that holds pool slots, with the
        process (owner) that carries it. Entries of dead processes may still be
        here until the next writer drops them; readers filter with `owner_alive`.

        The ledger is rewritten in place (one write call, padded with spaces to its
        old length, no rename: a rename costs 200 µs on ext4) and carries a
        checksum of its entries. A read that sees a write in progress reads again;
        a ledger that stays unreadable (a writer killed in the middle of a long
        write) is rebuilt from the task instances queued or running in the active
        runs (`holders_from_runs`), which record their pool."""
        seq = self.seq()
        cached_seq, cached = self._slots_cache
        if seq >= 0 and cached_seq == seq and not locked:
            return cached
        # three reads: one that met a write in progress (another process's) reads it whole the next time
        for _ in range(3):
            raw = self._read_ledger()
            if raw is None:
                return []
            holders = _parse_ledger(raw)
            if holders is not None:
                self._slots_cache = (seq if seq >= 0 else None, holders)
                return holders
        warning = f"the slot ledger {self.slots_path} is damaged; rebuilt from the active runs"
        if warning not in self.warnings[-1:]:
            self.warnings.append(warning)
        holders = self.holders_from_runs()
        self._slots_cache = (seq if seq >= 0 else None, holders)
        return holders

    def _ledger_fd(self, create: bool = False) -> int | None:
        """The ledger, kept open; opened again when its file was replaced (moved aside by doctor)."""
        fd = self._ledger[0]
        if fd is not None and self._ledger[1] == os.getpid():
            try:
                if os.stat(self.slots_path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except OSError:
                pass
            os.close(fd)
        self._ledger = (None, 0)
        try:
            flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
            self._ledger = (os.open(self.slots_path, flags, _FILE_MODE), os.getpid())
        except OSError:
            return None
        return self._ledger[0]

    def _read_ledger(self) -> bytes | None:
        fd = self._ledger_fd()
        if fd is None:
            return None
        try:
            size = os.fstat(fd).st_size
            return os.pread(fd, size, 0) if size else None
        except OSError:
            return None

    def holders_from_runs(self) -> list[dict[str, Any]]:
        """The ledger's entries as the active runs' task instances say: every
        instance queued or running, with its pool (recorded when it was queued)
        and its run's owner."""
        out = []
        for key in self.active_runs():
            try:
                stored = self.read_run(*key)
            except StoreCorrupt:
                continue
            if stored is None or not stored.record.owner:
                continue
            for tk, ti in stored.tis.items():
                if ti.state in ("queued", "running"):
                    out.append({"dag_id": key.dag_id, "run_id": key.run_id, "task_id": tk.task_id,
                                "map_index": tk.map_index, "try_number": ti.try_number,
                                "pool": ti.extra.get("pool") or "default_pool",
                                "slots": int(ti.extra.get("pool_slots") or 1), "owner": stored.record.owner})
        return out

    def is_paused(self, dag_id: str) -> bool:
        return bool(self.dag_flags().get(dag_id, {}).get("paused", False))

    def active_runs(self) -> list[RunKey]:
        """The runs the index lists as active. A damaged index is a hint lost:
        the run files are scanned instead (the scheduler rebuilds it)."""
        try:
            data = self.read_index()
        except StoreCorrupt as exc:
            self.warnings.append(str(exc))
            return sorted(self.scan_active())
        return [RunKey(d["dag_id"], d["run_id"]) for d in (data.get("active") or {}).values()
                if isinstance(d, dict) and "dag_id" in d and "run_id" in d]

    def scan_active(self, since: float | None = None, damaged: list[tuple[RunKey, str]] | None = None) -> set[RunKey]:
        """Active runs from the run files themselves (those changed after `since`, if given)."""
        active: set[RunKey] = set()
        for dag_id in self.dag_ids_with_runs():
            try:
                entries = list(os.scandir(self.runs_dir / dag_id))
            except OSError:
                continue
            for entry in entries:
                if not _is_run_file(entry.name):
                    continue
                key = RunKey(dag_id, entry.name[:-5])
                if since is not None:
                    try:
                        newest = entry.stat().st_mtime
                        jpath = self.runs_dir / dag_id / f"{key.run_id}.journal"
                        if jpath.exists():
                            newest = max(newest, jpath.stat().st_mtime)
                    except OSError:
                        newest = since
                    if newest < since:
                        continue
                try:
                    run = self.read_run(*key)
                except (StoreCorrupt, ValueError) as exc:
                    if damaged is not None:
                        damaged.append((key, str(exc)))
                    continue
                if run is not None and run.record.state not in RUN_FINISHED:
                    active.add(key)
        return active

    def seq(self) -> int:
        """The commit counter; it only has to change when the state does."""
        fd = self._seq_fd()
        if fd is None:
            return -1
        try:
            return int(os.pread(fd, 32, 0) or 0)
        except (OSError, ValueError):
            return -1

    def _seq_fd(self, create: bool = False) -> int | None:
        """The counter's file, kept open (it is only ever written in place)."""
        if self._seq[0] is None or self._seq[1] != os.getpid():
            try:
                flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
                self._seq = (os.open(self.seq_path, flags, _FILE_MODE), os.getpid())
            except OSError:
                return None
        return self._seq[0]

    # -- waking a scheduler ----------------------------------------------------------------

    @property
    def wake_path(self) -> Path:
        return self.paths.wake

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

    # -- repairs -----------------------------------------------------------------------------

    def reconcile_index(self) -> tuple[list[RunKey], str | None]:
        """Make the index list exactly the active runs written after it; a
        damaged index is moved aside and rebuilt from every run file.
        Returns (runs added or dropped, where a damaged index was put)."""
        moved = None
        try:
            indexed = set(RunKey(d["dag_id"], d["run_id"]) for d in (self.read_index().get("active") or {}).values())
            since = self.index_path.stat().st_mtime - 2.0 if self.index_path.exists() else None
        except StoreCorrupt:
            moved = self.set_aside(self.index_path)
            indexed, since = set(), None
        found = self.scan_active(since)
        if since is not None:  # runs not rewritten since the index: trust the index for them
            stale = {k for k in indexed - found if self._is_finished(k)}
            active = (indexed - stale) | found
        else:
            active = found
        wrong = sorted((active - indexed) | (indexed - active))
        if wrong or moved:
            with self.transaction() as tx:
                tx.set_active(active)
        return wrong, moved

    def _is_finished(self, key: RunKey) -> bool:
        try:
            run = self.read_run(*key)
        except StoreCorrupt:
            return False
        return run is None or run.record.state in RUN_FINISHED

    def set_aside(self, path: Path, copy: bool = False) -> str:
        """Move a damaged file out of the way (never delete it); returns where it
        went. With `copy`, a copy goes there and the file stays, for a writer to
        replace atomically (so a failed write leaves it in place)."""
        import time

        target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while target.exists():
            target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
            n += 1
        if copy:
            import shutil

            shutil.copy2(path, target)
            with open(target, "rb") as f:
                _sync(f.fileno())
        else:
            os.replace(path, target)
        fsync_dir(path.parent)
        return str(target)

    def stale_temps(self) -> list[Path]:
        """Temp files whose writer is dead (a killed writer's leftovers)."""
        found: list[Path] = []
        if not self.root.exists():
            return found
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                m = _TEMP.match(name)
                if m and not pid_alive(int(m.group(1))):
                    found.append(Path(folder) / name)
        return found

    def remove_stale_temps(self) -> int:
        removed = 0
        for path in self.stale_temps():
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self, timeout: float = 30.0) -> Iterator[Transaction]:
        """Hold the writer lock; on a clean exit, write every change (an
        exception writes nothing). OSError (a full disk) reaches the caller
        with the store as it was before the transaction."""
        self.ensure()
        if self._lock is None:
            self._lock = WriterLock(self.paths.lock)
        if not self._lock.acquire(timeout):
            raise StoreCorrupt(
                f"another flowctl process has held the state lock for {timeout:g} s ({self.paths.lock})"
            )
        try:
            if not self._swept:
                self._swept = True
                self.remove_stale_temps()
            tx = Transaction(self)
            yield tx
            tx.commit()
        finally:
            self._lock.release()

    def bump_seq(self) -> None:
        """Called under the writer lock; a fixed-width write in place is enough
        for a change signal (the state itself is in the fsynced files)."""
        value = max(self.seq(), 0) + 1
        fd = self._seq_fd(create=True)
        if fd is not None:
            os.pwrite(fd, f"{value:020d}".encode(), 0)
        self._own_seq = value


class WriterLock:
    """The one-writer lock: flock(2) on a file this process keeps open, so it
    dies with the process. (Opening the file for every commit, as a general
    file-lock library does, cost 110 µs a commit here; flock on an open file
    costs 1 µs.) A thread lock keeps two threads of one process apart too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._threads = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        import fcntl
        import time

        if not self._threads.acquire(timeout=max(0.0, timeout)):
            return False
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            self._pid = os.getpid()
        deadline = time.monotonic() + timeout
        nap = 0.001
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._threads.release()
                    return False
                time.sleep(nap)
                nap = min(nap * 2, 0.05)

    def release(self) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


# -- transactions -------------------------------------------------------------------------


class RunWriter:
    """One run inside a transaction: reads see this transaction's own changes."""

    def __init__(self, tx: Transaction, key: RunKey, stored: StoredRun | None, created: bool) -> None:
        self.tx = tx
        self.key = key
        self.stored = stored
        self.created = created
        self.run_changes: dict[str, Any] = {}
        self.ti_changes: dict[TaskKey, dict[str, Any]] = {}
        self.xcom_set: dict[tuple[TaskKey, str], Any] = {}
        self.xcom_clear: list[TaskKey] = []
        self.drops: list[TaskKey] = []
        self.new_version: dict[str, Any] | None = None

    # reading
    @property
    def record(self) -> Run:
        assert self.stored is not None
        if not self.run_changes:
            return self.stored.record
        run = Run.from_doc(self.stored.record.to_doc())
        run.update(self.run_changes)
        return run

    @property
    def run(self) -> dict[str, Any]:
        return self.record.to_doc()

    def ti(self, key: TaskKey | str) -> TaskInstance | None:
        key = key if isinstance(key, TaskKey) else TaskKey(key)
        assert self.stored is not None
        base = None if key in self.drops else self.stored.tis.get(key)  # dropped, then made anew
        changes = self.ti_changes.get(key)
        if changes is None:
            return base
        ti = base.copy() if base is not None else TaskInstance(key.task_id, key.map_index)
        ti.update(changes)
        return ti

    def keys(self) -> list[TaskKey]:
        assert self.stored is not None
        return [k for k in dict.fromkeys([*self.stored.tis, *self.ti_changes])
                if k not in self.drops or k in self.ti_changes]

    def tis(self) -> dict[TaskKey, TaskInstance]:
        out = {}
        for key in self.keys():
            ti = self.ti(key)
            if ti is not None:
                out[key] = ti
        return out

    @property
    def version(self) -> dict[str, Any]:
        assert self.stored is not None
        return self.new_version if self.new_version is not None else self.stored.version

    # writing
    def update_run(self, **fields: Any) -> None:
        self.run_changes.update(fields)

    def put_ti(self, key: TaskKey | str, **fields: Any) -> None:
        key = key if isinstance(key, TaskKey) else TaskKey(key)
        self.ti_changes.setdefault(key, {}).update(fields)

    def transition(self, key: TaskKey | str, from_: Iterable[str], **fields: Any) -> bool:
        """Update a task instance only if its state is one of `from_`."""
        ti = self.ti(key)
        state = ti.state if ti is not None else "none"
        if state not in set(from_):
            return False
        self.put_ti(key, **fields)
        return True

    def drop_ti(self, key: TaskKey) -> None:
        """Remove a task instance (a mapped task's place-holder, once expanded)."""
        self.drops.append(key)
        self.ti_changes.pop(key, None)

    def set_xcom(self, key: TaskKey | str, xkey: str, value: Any) -> None:
        key = key if isinstance(key, TaskKey) else TaskKey(key)
        self.xcom_set[(key, xkey)] = value

    def clear_xcom(self, key: TaskKey | str) -> None:
        key = key if isinstance(key, TaskKey) else TaskKey(key)
        self.xcom_clear.append(key)
        for xk in [xk for xk in self.xcom_set if xk[0] == key]:
            del self.xcom_set[xk]

    def set_dag_version(self, version: dict[str, Any]) -> None:
        self.new_version = version

    @property
    def dirty(self) -> bool:
        return bool(self.created or self.run_changes or self.ti_changes or self.xcom_set
                    or self.xcom_clear or self.drops or self.new_version is not None)

    def only_progress(self) -> bool:
        """Whether these changes only hand tries over or say they started
        (queued, running): nothing announced, nothing a crash must keep."""
        return not (self.created or self.run_changes or self.xcom_set or self.xcom_clear or self.drops
                    or self.new_version is not None) and all(
            changes.get("state") in _PROGRESS for changes in self.ti_changes.values())

    def entry(self, n: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"n": n}
        if self.run_changes:
            entry["run"] = self.run_changes
        if self.drops:
            entry["drop"] = [[k.task_id, k.map_index] for k in self.drops]
        if self.ti_changes:
            entry["tis"] = [[k.task_id, k.map_index, c] for k, c in self.ti_changes.items()]
        if self.xcom_clear:
            entry["xcom_clear"] = [[k.task_id, k.map_index] for k in self.xcom_clear]
        if self.xcom_set:
            entry["xcom"] = [[k.task_id, k.map_index, x, v] for (k, x), v in self.xcom_set.items()]
        if self.new_version is not None:
            entry["version"] = self.new_version
        return entry


class Transaction:
    """The changes made under the writer lock, written in a crash-safe order."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._runs: dict[RunKey, RunWriter] = {}
        self._active: set[RunKey] | None = None  #: a whole new active set (a rebuild)
        self._flags: dict[str, dict[str, Any]] = {}
        self._pools: dict[str, dict[str, Any] | None] = {}  #: pool -> new definition (None: delete)
        self._holders: tuple[dict[str, Any], list[dict[str, Any]]] | None = None  #: (owner, its holders)
        self._locked_holders: list[dict[str, Any]] | None = None
        self.touched: dict[RunKey, set[TaskKey]] = {}  #: task instances other writers changed since our last look
        self.committed: set[RunKey] = set()  #: runs whose changes are on disk (all of them, unless commit raised)
        self.foreign = store._own_seq is None or store.seq() != store._own_seq  #: another process committed since our last commit
        self.write_first: list[Callable[[], bool]] = []  #: other files of this commit, written before the runs (asset events)

    def run(self, dag_id: str, run_id: str) -> RunWriter | None:
        """The run, current under the lock; None if it does not exist."""
        key = RunKey(dag_id, run_id)
        writer = self._runs.get(key)
        if writer is not None:
            return writer
        stored = self._current(key)
        if stored is None:
            return None
        writer = self._runs[key] = RunWriter(self, key, stored, created=False)
        return writer

    def _current(self, key: RunKey) -> StoredRun | None:
        """Checked against the files under the lock (two stats when nothing changed)."""
        touched: set[TaskKey] = set()
        stored = self.store._load(key, touched)
        if touched:
            self.touched[key] = touched
        return stored

    def create_run(self, record: Run, tis: Iterable[TaskInstance], version: dict[str, Any]) -> RunWriter:
        """A new run (the caller has checked that none exists for its key)."""
        key = record.key
        stored = StoredRun(key, record, {ti.key: ti for ti in tis}, {}, dict(version))
        writer = self._runs[key] = RunWriter(self, key, stored, created=True)
        return writer

    def exists(self, dag_id: str, run_id: str) -> bool:
        key = RunKey(dag_id, run_id)
        return key in self._runs or self.store.run_path(dag_id, run_id).exists()

    def set_dag_flags(self, dag_id: str, **flags: Any) -> None:
        self._flags.setdefault(dag_id, {}).update(flags)

    def set_active(self, active: set[RunKey]) -> None:
        self._active = set(active)

    def set_pool(self, name: str, slots: int, description: str | None) -> None:
        self._pools[name] = {"pool": name, "slots": int(slots), "description": description or ""}

    def delete_pool(self, name: str) -> None:
        self._pools[name] = None

    def slot_holders(self) -> list[dict[str, Any]]:
        """The ledger as it is under the lock (this transaction's own change not included)."""
        if self._locked_holders is None:
            self._locked_holders = self.store.slot_holders(locked=True)
        return self._locked_holders

    def hold_slots(self, owner: dict[str, Any], holders: list[dict[str, Any]]) -> None:
        """Make `holders` the whole of what `owner` holds in the ledger. Entries of
        processes that are gone are dropped as the ledger is rewritten, so a killed
        process's slots come free with the next commit of any other."""
        self._holders = (owner, [dict(h) for h in holders])

    # -- commit ------------------------------------------------------------------------

    def commit(self) -> None:
        store = self.store
        wrote = False
        if self._holders is not None:  # first: if it cannot be written, nothing is
            self._write_slots()
            wrote = True
        if self._pools:
            self._write_pools()
            wrote = True
        for write in self.write_first:  # e.g. asset events (assetlog.py): never lost behind a success
            wrote = write() or wrote
        if self._active is None and not any(
                w.created or "state" in w.run_changes for w in self._runs.values() if w.dirty):
            # no run started or ended: the index (a hint of what is active) cannot change
            for key, w in self._runs.items():
                if w.dirty:
                    self._append(key, w)
                    self.committed.add(key)
                    wrote = True
            if self._flags:
                self._write_flags()
                wrote = True
            if wrote:
                store.bump_seq()
            return
        try:
            index_before = self._indexed()
        except StoreCorrupt as exc:  # a hint lost: keep the damaged copy aside, rebuild from the run files
            moved = store.set_aside(store.index_path)
            store.warnings.append(f"{exc}; moved aside to {moved} and rebuilt from the run files")
            index_before = set(store.scan_active())
            self._active = set(index_before) if self._active is None else self._active
        active_after = set(index_before) if self._active is None else set(self._active)
        for key, w in self._runs.items():
            if not w.dirty:
                continue
            state = w.run_changes.get("state", w.stored.record.state if w.stored else None)
            if state in RUN_FINISHED:
                active_after.discard(key)
            elif state is not None:
                active_after.add(key)
        # 1. a run that becomes active is in the index before its file exists
        grows = active_after - index_before
        if grows:
            self._write_index(index_before | active_after)
            wrote = True
        # 2. the runs: new ones as documents, changes as journal lines
        for key, w in self._runs.items():
            if not w.dirty:
                continue
            if w.created:
                self._write_new(key, w)
            else:
                self._append(key, w)
            self.committed.add(key)
            wrote = True
        # 3. a run that finished leaves the index after its file was written; a power cut
        # may undo that rename, and a finished run listed as active is only looked at again
        if active_after != (index_before | grows) or self._active is not None:
            self._write_index(active_after, keep_rename=self._active is not None)
            wrote = True
        if self._flags:
            self._write_flags()
            wrote = True
        if wrote:
            store.bump_seq()

    def _indexed(self) -> set[RunKey]:
        data = self.store.read_index()
        return {RunKey(d["dag_id"], d["run_id"]) for d in (data.get("active") or {}).values()}

    def _write_index(self, active: set[RunKey], keep_rename: bool = True) -> None:
        doc = {"_meta": {"1": {"schema": SCHEMA_VERSION, "kind": "index"}},
               "active": {str(i): {"dag_id": k.dag_id, "run_id": k.run_id}
                          for i, k in enumerate(sorted(active), 1)}}
        atomic_write(self.store.index_path, orjson.dumps(doc), keep_rename=keep_rename)

    def _write_flags(self) -> None:
        """The flags with this commit's changes. A damaged dags.json is set aside
        (kept, never overwritten) and a new one written: the flags it held are lost."""
        store = self.store
        try:
            flags = store.dag_flags()
        except StoreCorrupt as exc:  # a copy is kept; the damaged file stays until the new one replaces it
            kept = store.set_aside(store.flags_path, copy=True)
            store.warnings.append(f"{exc}; a copy is kept as {kept}; the DAGs it paused are not paused now "
                                  f"(pause them again)")
            flags = {}
        for dag_id, changes in self._flags.items():
            flags[dag_id] = {**flags.get(dag_id, {"dag_id": dag_id}), **changes, "dag_id": dag_id}
        doc = {"_meta": {"1": {"schema": SCHEMA_VERSION, "kind": "dags"}},
               "dags": {str(i): f for i, f in enumerate(sorted(flags.values(), key=lambda f: f["dag_id"]), 1)}}
        atomic_write(self.store.flags_path, orjson.dumps(doc))

    def _write_pools(self) -> None:
        pools = self.store.pools()
        for name, entry in self._pools.items():
            if entry is None:
                pools.pop(name, None)
            else:
                pools[name] = entry
        doc = {"_meta": {"1": {"schema": SCHEMA_VERSION, "kind": "pools"}},
               "pools": {str(i): p for i, p in enumerate(sorted(pools.values(), key=lambda p: p["pool"]), 1)}}
        atomic_write(self.store.pools_path, orjson.dumps(doc))

    def _write_slots(self) -> None:
        """The ledger: the other live processes' entries, then this one's, written
        in place in one call (see `Store.slot_holders`). Not fsynced: it names live
        processes only, and after a power cut none is."""
        from flowctl.procs import same_owner

        assert self._holders is not None
        owner, mine = self._holders
        alive: dict[tuple[Any, ...], bool] = {}
        kept = []
        for h in self.slot_holders():
            who = h.get("owner") or {}
            if same_owner(who, owner):
                continue
            ident = (who.get("pid"), who.get("started"), who.get("hostname"))
            if ident not in alive:
                alive[ident] = owner_alive(who)
            if alive[ident]:
                kept.append(h)
        entries = kept + [{**h, "owner": owner} for h in mine]
        store = self.store
        fd = store._ledger_fd(create=True)
        if fd is None:
            raise OSError(errno.EACCES, "cannot open the slot ledger", str(store.slots_path))
        data = _ledger_bytes(entries)
        size = os.fstat(fd).st_size
        written = os.pwrite(fd, data.ljust(size, b" "), 0)
        if written < max(size, len(data)):
            raise OSError(errno.ENOSPC, "the slot ledger was not written whole", str(store.slots_path))
        if size > 4 * len(data) and size > 65536:
            os.ftruncate(fd, len(data))  # what was padded is valid either way
        store._slots_cache = (None, entries)

    def _write_new(self, key: RunKey, w: RunWriter) -> None:
        assert w.stored is not None
        stored = w.stored
        if w.ti_changes or w.run_changes or w.xcom_set or w.xcom_clear or w.drops or w.new_version is not None:
            stored.apply({**w.entry(stored.applied + 1)})
            stored.folded = stored.applied
        path = self.store.run_path(*key)
        private_dir(path.parent, durable=True)
        atomic_write(path, orjson.dumps(stored.to_document()))
        self._remember(key, stored, path, offset=0)

    def _append(self, key: RunKey, w: RunWriter) -> None:
        store = self.store
        assert w.stored is not None
        hit = store._cache.get(key)
        assert hit is not None and hit.run is w.stored
        n = w.stored.applied + 1
        entry = w.entry(n)
        if w.record.state in RUN_FINISHED and self._fold_with(key, hit, entry):
            return  # the run ended: its last change went straight into its document
        path = store.journal_path(*key)
        line = _encode_line(entry)
        durable = not w.only_progress()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _FILE_MODE)
        try:
            st = os.fstat(fd)
            if st.st_size != hit.offset and (hit.journal_ino in (None, st.st_ino)):
                os.ftruncate(fd, hit.offset)  # a torn line left by a killed writer
            if hit.journal_ino != st.st_ino:
                hit.journal_listed = False  # a journal this process has not seen: its entry may not be durable
            try:
                view = memoryview(line)
                while view:  # a short write is retried: the next one says why (ENOSPC)
                    view = view[os.write(fd, view):]
                if durable:
                    _sync(fd)  # also every earlier line of this journal
            except OSError as exc:
                os.ftruncate(fd, hit.offset)
                if exc.filename is None:
                    raise OSError(exc.errno, exc.strerror, str(path)) from None
                raise
        finally:
            os.close(fd)
        if durable and not hit.journal_listed:
            fsync_dir(path.parent)
            hit.journal_listed = True
        w.stored.apply(entry)
        hit.offset += len(line)
        hit.journal_ino = st.st_ino
        if hit.offset >= FOLD_MIN_BYTES and hit.offset >= hit.base_stamp[2]:
            try:
                self._fold(key, hit, remove_journal=False)
            except OSError as exc:  # the line is committed; folding waits for room (a full disk)
                store.warnings.append(f"could not fold {store.run_path(*key)} ({exc.strerror}); "
                                      f"its journal is kept and folded later")

    def _fold_with(self, key: RunKey, hit: _Cached, entry: dict[str, Any]) -> bool:
        """A run that ends is written as one document with its last change in it
        (one synced file instead of a journal line and then the document). False
        if the disk refused: the change then goes to the journal as any other."""
        candidate = hit.run.copy()
        candidate.apply(entry)
        candidate.folded = candidate.applied
        try:
            atomic_write(self.store.run_path(*key), orjson.dumps(candidate.to_document()))
        except OSError:
            return False
        hit.run.apply(entry)
        hit.run.folded = hit.run.applied
        try:
            os.unlink(self.store.journal_path(*key))  # its lines are in the document, which says so
        except FileNotFoundError:
            pass
        self._remember(key, hit.run, self.store.run_path(*key), offset=0)
        return True

    def _fold(self, key: RunKey, hit: _Cached, remove_journal: bool) -> None:
        """Write the run as one document again; the journal starts afresh."""
        store = self.store
        stored = hit.run
        stored.folded = stored.applied
        path = store.run_path(*key)
        atomic_write(path, orjson.dumps(stored.to_document()))
        jpath = store.journal_path(*key)
        try:
            if remove_journal:
                os.unlink(jpath)
            else:
                os.truncate(jpath, 0)
        except FileNotFoundError:
            pass
        self._remember(key, stored, path, offset=0)

    def _remember(self, key: RunKey, stored: StoredRun, path: Path, offset: int) -> None:
        st = os.stat(path)
        try:
            j_ino: int | None = os.stat(self.store.journal_path(*key)).st_ino
        except FileNotFoundError:
            j_ino = None
        self.store._cache[key] = _Cached(_stamp(st), j_ino, offset, stored)
