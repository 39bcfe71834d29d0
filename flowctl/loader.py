"""Finding DAG files and importing each in a child process under a time limit.

DAG files are untrusted code with bugs: a file that raises, hangs or defines
a cycle becomes an import error naming the file, and the other files load.
Results are cached by file content in the home, so an unchanged folder loads
without importing anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.specs import DagSpec

CACHE_VERSION = 1


@dataclass(frozen=True)
class ImportErrorRecord:
    fileloc: str
    error: str
    traceback: str = ""

    def to_doc(self) -> dict[str, str]:
        return {"fileloc": self.fileloc, "error": self.error, "traceback": self.traceback}


@dataclass
class DagBag:
    dags: dict[str, DagSpec] = field(default_factory=dict)
    errors: list[ImportErrorRecord] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  #: path -> content hash


def find_dag_files(folder: Path) -> list[Path]:
    """Every .py file below `folder`, skipping names starting with '.' or '_'."""
    found: list[Path] = []
    if not folder.is_dir():
        return found
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith((".", "_")):
                found.append(Path(root) / name)
    return found


def module_name_for(path: str) -> str:
    return "flowctl_dag_" + hashlib.sha1(path.encode()).hexdigest()[:12]


def import_dag_file(path: str) -> list[Any]:
    """Import one DAG file in this process and return the DAG objects it made.

    The DAG folder is put on sys.path first, as Airflow does, so DAG files
    can import helper modules that sit next to them.
    """
    from flowctl.authoring import dag as dag_module

    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    dag_module.collect_created()
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    dags = dag_module.collect_created()
    for d in dags:
        d.fileloc = path
        d.validate()
    return dags


def describe_exception(exc: BaseException, path: str) -> tuple[str, str]:
    """A one-line error naming the line of the DAG file, and the full traceback."""
    from flowctl.errors import FlowctlError

    tb = traceback.extract_tb(exc.__traceback__)
    lines = [f.lineno for f in tb if f.filename == path]
    where = f" (line {lines[-1]})" if lines else ""
    if isinstance(exc, SyntaxError) and exc.filename == path:
        where = f" (line {exc.lineno})"
    message = str(exc) if isinstance(exc, FlowctlError) else f"{type(exc).__name__}: {exc}"
    full = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return message + where, full


def _specs_of_file(path: str, default_tz: str) -> dict[str, Any]:
    try:
        dags = import_dag_file(path)
        return {"dags": [DagSpec.from_dag(d, path, default_tz).to_doc() for d in dags]}
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything
        message, full = describe_exception(exc, path)
        return {"error": message, "traceback": full}


def _start_child(path: str, default_tz: str) -> tuple[int, int]:
    """Fork a child that imports `path` and writes its specs as JSON to a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            payload = json.dumps(_specs_of_file(path, default_tz), default=str).encode()
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, read_fd


def _collect(children: dict[int, tuple[str, int]], timeout: float) -> dict[str, dict[str, Any]]:
    """Read every child's answer; a child past its time limit is killed."""
    results: dict[str, dict[str, Any]] = {}
    buffers: dict[int, bytearray] = {fd: bytearray() for _, fd in children.values()}
    by_fd = {fd: (pid, path) for pid, (path, fd) in children.items()}
    deadline = time.monotonic() + timeout
    while by_fd:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for fd, (pid, path) in by_fd.items():
                _kill(pid)
                os.close(fd)
                results[path] = {"error": f"timed out after {timeout:g} s while importing (dag_file_timeout)", "transient": True}
            break
        ready, _, _ = select.select(list(by_fd), [], [], remaining)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                buffers[fd].extend(chunk)
                continue
            pid, path = by_fd.pop(fd)
            os.close(fd)
            _, status = os.waitpid(pid, 0)
            try:
                results[path] = json.loads(buffers[fd].decode()) if buffers[fd] else {
                    "error": f"the import process died ({_describe_status(status)})"
                }
            except json.JSONDecodeError:
                results[path] = {"error": "the import process returned garbage"}
    return results


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _import_files_in_subprocess(paths: list[str], default_tz: str, timeout: float) -> dict[str, dict[str, Any]]:
    """Where forking is unsafe (threads running, as in the TUI) use a fresh interpreter."""
    import subprocess

    results = {}
    for path in paths:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "flowctl.loader", path, default_tz],
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            results[path] = json.loads(proc.stdout.decode() or "{}") or {
                "error": f"the import process failed: {proc.stderr.decode()[-300:]}"
            }
        except subprocess.TimeoutExpired:
            results[path] = {"error": f"timed out after {timeout:g} s while importing (dag_file_timeout)"}
        except json.JSONDecodeError:
            results[path] = {"error": "the import process returned garbage"}
    return results


def import_files(paths: list[str], default_tz: str, timeout: float, parallel: int) -> dict[str, dict[str, Any]]:
    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return _import_files_in_subprocess(paths, default_tz, timeout)
    results: dict[str, dict[str, Any]] = {}
    for i in range(0, len(paths), max(1, parallel)):
        batch = paths[i : i + max(1, parallel)]
        children = {}
        for path in batch:
            pid, fd = _start_child(path, default_tz)
            children[pid] = (path, fd)
        results.update(_collect(children, timeout))
    return results


def _code_stamp() -> str:
    """flowctl's own version and code: a cached spec made by other code is stale."""
    from flowctl import __version__

    folder = Path(__file__).parent
    newest = max((p.stat().st_mtime_ns for p in folder.rglob("*.py")), default=0)
    return f"{__version__}:{newest}"


class Loader:
    """Loads the DAG folder, re-importing only files whose content changed."""

    def __init__(self, folder: Path, cache_path: Path | None, default_tz: str, timeout: float, parallel: int = 0) -> None:
        self.folder = folder
        self.cache_path = cache_path
        self.default_tz = default_tz
        self.timeout = timeout
        self.parallel = parallel or max(2, os.cpu_count() or 2) * 2
        self._cache: dict[str, dict[str, Any]] = self._read_cache()

    def _read_cache(self) -> dict[str, dict[str, Any]]:
        if self.cache_path is None:
            return {}
        try:
            doc = json.loads(self.cache_path.read_text())
            if doc.get("version") == CACHE_VERSION and doc.get("default_tz") == self.default_tz \
                    and doc.get("code") == _code_stamp():
                return doc["files"]
        except (OSError, ValueError, KeyError):
            pass
        return {}

    def _write_cache(self) -> None:
        if self.cache_path is None:
            return
        from flowctl.store import atomic_write

        doc = {"version": CACHE_VERSION, "default_tz": self.default_tz, "code": _code_stamp(),
               "files": {p: e for p, e in self._cache.items() if not e.get("transient")}}
        try:
            atomic_write(self.cache_path, json.dumps(doc).encode(), fsync=False)
        except OSError:
            pass  # the cache is an optimisation; a read-only home still works

    def load(self) -> DagBag:
        files = find_dag_files(self.folder)
        todo: list[str] = []
        fresh: dict[str, dict[str, Any]] = {}
        for path in files:
            key = str(path)
            try:
                st = path.stat()
            except OSError:
                continue
            cached = self._cache.get(key)
            stamp = [st.st_mtime_ns, st.st_size]
            if cached and cached.get("stamp") == stamp:
                fresh[key] = cached
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if cached and cached.get("sha") == digest:
                cached["stamp"] = stamp
                fresh[key] = cached
                continue
            fresh[key] = {"stamp": stamp, "sha": digest}
            todo.append(key)
        if todo:
            for path, result in import_files(todo, self.default_tz, self.timeout, self.parallel).items():
                fresh[path].update(result)
        changed = bool(todo) or set(fresh) != set(self._cache)
        self._cache = fresh
        if changed:
            self._write_cache()
        return self._bag(fresh)

    def _bag(self, entries: dict[str, dict[str, Any]]) -> DagBag:
        bag = DagBag()
        for path in sorted(entries):
            entry = entries[path]
            bag.files[path] = entry.get("sha", "")
            if "error" in entry:
                bag.errors.append(ImportErrorRecord(path, entry["error"], entry.get("traceback", "")))
                continue
            for doc in entry.get("dags", []):
                spec = DagSpec.from_doc(doc)
                if spec.dag_id in bag.dags:
                    other = bag.dags[spec.dag_id].fileloc
                    bag.errors.append(
                        ImportErrorRecord(path, f"DAG id {spec.dag_id!r} is already defined in {other}")
                    )
                    continue
                bag.dags[spec.dag_id] = spec
        return bag


if __name__ == "__main__":  # the subprocess fallback of import_files
    print(json.dumps(_specs_of_file(sys.argv[1], sys.argv[2]), default=str))
