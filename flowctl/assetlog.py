"""Asset events as the store keeps them: `state/assets.journal`, one
checksummed JSON line per event (the run journals' format), numbered from 1.

An event is written by the loop's commit that records the producing task's
success, under the same writer lock and before that success's journal line
(`Transaction.write_first`): a reader never sees the success without its
event. A crash between the two lines leaves the event and a try that runs
again (at least once, never lost).

    {"n": 7, "uri": "s3://bucket/key", "name": "...", "group": "asset", "extra": {...},
     "timestamp": "2026-...+00:00", "dag_id": ..., "run_id": ..., "task_id": ...,
     "map_index": -1, "try_number": 1, "alias": null,
     "data_interval_start": ..., "data_interval_end": ...}

Readers take no lock and read only what was appended since they last looked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.errors import StoreCorrupt
from flowctl.store import Store, Transaction, _decode_lines, _encode_line, fsync_dir

_FILE_MODE = 0o600
_sync = getattr(os, "fdatasync", os.fsync)


def journal_path(store: Store) -> Path:
    return store.root / "assets.journal"


@dataclass
class _Read:
    ino: int | None = None
    offset: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    sources: set[tuple[Any, ...]] = field(default_factory=set)  #: which try made which event


def _source(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event.get("dag_id"), event.get("run_id"), event.get("task_id"), event.get("map_index"),
            event.get("try_number"), event.get("uri"), event.get("alias"))


_cache: dict[str, _Read] = {}
_lock = threading.Lock()


def events(store: Store) -> list[dict[str, Any]]:
    """Every asset event, oldest first (a copy of the list; the events are shared)."""
    with _lock:
        return list(_refresh(journal_path(store)).events)


def last_number(store: Store) -> int:
    got = events(store)
    return int(got[-1]["n"]) if got else 0


def since(store: Store, after: int, uris: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Events numbered after `after` (for these URIs, if given)."""
    wanted = None if uris is None else set(uris)
    return [e for e in events(store) if e["n"] > after and (wanted is None or e["uri"] in wanted)]


def stamp(store: Store) -> tuple[int, int] | None:
    """Changes when an event is added: a `stat`, for readers deciding whether to look."""
    try:
        st = os.stat(journal_path(store))
    except OSError:
        return None
    return (st.st_ino, st.st_size)


def _refresh(path: Path) -> _Read:
    key = str(path)
    hit = _cache.get(key)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _cache[key] = _Read()
        return _cache[key]
    except OSError as exc:
        raise StoreCorrupt(f"state file {path} cannot be read ({exc.strerror})") from None
    if hit is None or hit.ino != st.st_ino or st.st_size < hit.offset:
        hit = _cache[key] = _Read(st.st_ino, 0, [])
    if st.st_size > hit.offset:
        try:
            with open(path, "rb") as f:
                f.seek(hit.offset)
                data = f.read()
        except OSError as exc:
            raise StoreCorrupt(f"state file {path} cannot be read ({exc.strerror})") from None
        lines, used = _decode_lines(data, path)
        hit.events.extend(lines)
        hit.sources.update(_source(e) for e in lines)
        hit.offset += used
    return hit


# -- writing (inside a transaction) ----------------------------------------------------


def stage(tx: Transaction, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number these events and have the transaction write them first when it
    commits. Called under the writer lock; returns the events as they will be.
    An event its try already recorded (a commit tried again after the disk
    refused it) is not recorded twice."""
    path = journal_path(tx.store)
    pending: list[dict[str, Any]] | None = getattr(tx, "_asset_events", None)
    with _lock:
        read = _refresh(path)
        last = int(read.events[-1]["n"]) if read.events else 0
        offset = read.offset
        new = [e for e in new if _source(e) not in read.sources]
    if pending is None:
        pending = []
        tx._asset_events = pending  # type: ignore[attr-defined]
        tx.write_first.append(lambda: _append(path, pending, offset))
    else:
        last = max(last, int(pending[-1]["n"])) if pending else last
    numbered = [{"n": last + i, **event} for i, event in enumerate(new, 1)]
    pending.extend(numbered)
    return numbered


def _append(path: Path, pending: list[dict[str, Any]], offset: int) -> bool:
    if not pending:
        return False
    data = b"".join(_encode_line(e) for e in pending)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _FILE_MODE)
    try:
        st = os.fstat(fd)
        created = st.st_size == 0
        if st.st_size > offset:
            os.ftruncate(fd, offset)  # a torn line left by a killed writer
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            _sync(fd)
        except OSError as exc:
            os.ftruncate(fd, offset)
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return True


__all__ = ["events", "journal_path", "last_number", "since", "stage", "stamp"]
