"""Finding DAG files and importing each in a child process under a time limit.

DAG files are untrusted code with bugs: a file that raises, hangs or defines
a cycle becomes an import error naming the file, and the other files load.
The outcome of every file (its DAGs, its error, its time-out) is cached by
the file's content in the home, so an unchanged folder loads without
importing anything, and a file that hung does not stall the next command.

Importing a file works as in Airflow: the DAG folder (and `plugins/` beside
it) is on the import path, and `import airflow` resolves to flowctl's
`airflow` layer (flowctl/compat/airflow), which costs nothing to a file that
does not import it. Which files are DAG files: see dagfolder.py.
"""

from __future__ import annotations

import functools
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowctl.dagfolder import find_dag_files as _find
from flowctl.specs import DagSpec

CACHE_VERSION = 5
SLOW_NOTICE_AFTER = 5.0
"""Seconds of waiting on a file's import before a command says so on stderr."""

COMPAT_PATH = str(Path(__file__).parent / "compat")
"""The folder holding the `airflow` package of the compatibility layer."""

_dags_root: str | None = None


@dataclass(frozen=True)
class ImportErrorRecord:
    fileloc: str
    error: str
    traceback: str = ""

    def to_doc(self) -> dict[str, str]:
        return {"fileloc": self.fileloc, "error": self.error, "traceback": self.traceback}


@dataclass(frozen=True)
class WarningRecord:
    """An Airflow argument a DAG uses that flowctl accepts and does not act on."""

    fileloc: str
    dag_id: str
    warning: str

    def to_doc(self) -> dict[str, str]:
        return {"fileloc": self.fileloc, "dag_id": self.dag_id, "warning": self.warning}


@dataclass
class DagBag:
    dags: dict[str, DagSpec] = field(default_factory=dict)
    errors: list[ImportErrorRecord] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  #: path -> content hash
    warnings: list[WarningRecord] = field(default_factory=list)


def find_dag_files(folder: Path, safe_mode: bool = False, syntax: str = "regexp") -> list[Path]:
    """Every DAG file below `folder` (see dagfolder.py)."""
    return _find(folder, safe_mode, syntax)


def use_dags_folder(folder: str | os.PathLike[str] | None) -> None:
    """The DAG folder whose root goes on the import path of DAG files imported by this
    process and its forks (the loader's children, the fork servers of tasks)."""
    global _dags_root
    _dags_root = str(folder) if folder else None


def use_bytecode_folder(folder: str | os.PathLike[str] | None) -> None:
    """Where the bytecode of DAG files (and the helper modules they import)
    is cached: a folder in the home, so that flowctl writes nothing into the
    DAG folder (Python would put `__pycache__` beside each file)."""
    global _bytecode_root
    _bytecode_root = str(folder) if folder else None


_bytecode_root: str | None = None


def module_name_for(path: str) -> str:
    return "flowctl_dag_" + hashlib.sha1(path.encode()).hexdigest()[:12]


def _import_path(path: str, root: str | None) -> list[str]:
    """What goes first on sys.path for a DAG file: the `airflow` layer, the DAG
    folder's root and the `plugins/` folder beside it, then the file's own folder."""
    root = root or _dags_root or os.environ.get("FLOWCTL_DAGS_FOLDER")
    folder = os.path.dirname(path)
    entries = [COMPAT_PATH]
    if root and (folder + os.sep).startswith(os.path.abspath(root).rstrip(os.sep) + os.sep):
        root = os.path.abspath(root)
        entries.append(root)
        plugins = os.path.join(os.path.dirname(root), "plugins")
        if os.path.isdir(plugins):
            entries.append(plugins)
    if folder not in entries:
        entries.append(folder)
    return entries


def import_dag_file(path: str, root: str | None = None) -> list[Any]:
    """Import one DAG file in this process and return the DAG objects it made.

    `root` is the DAG folder (default: the one the Loader of this process
    reads); it and `plugins/` beside it are put on sys.path, as Airflow does.
    """
    from flowctl.authoring import dag as dag_module

    for entry in reversed(_import_path(path, root)):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    dag_module.collect_created()
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    prefix = sys.pycache_prefix
    if _bytecode_root is not None:
        sys.pycache_prefix = _bytecode_root
    try:
        spec.loader.exec_module(module)
    finally:
        sys.pycache_prefix = prefix
    dags = dag_module.collect_created()
    for d in dags:
        d.fileloc = path
        d.validate()
    return dags


def describe_exception(exc: BaseException, path: str) -> tuple[str, str]:
    """A one-line error naming the line of the DAG file, and the full traceback."""
    from flowctl.compat import import_error_message
    from flowctl.errors import FlowctlError

    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if f.filename == path]
    line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
    airflow_message = import_error_message(exc, frames[-1].line if frames else None)
    if isinstance(exc, SyntaxError) and exc.filename == path:
        message = f"{type(exc).__name__}: {exc.msg}"
        line = exc.lineno
    elif isinstance(exc, FlowctlError):
        message = str(exc)
    elif airflow_message is not None:
        message = f"ImportError: {airflow_message}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    full = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return message + (f" (line {line})" if line else "") + _install_hint(exc), full


# modules whose package on the index has another name
_PACKAGE_OF = {"yaml": "PyYAML", "bs4": "beautifulsoup4", "sklearn": "scikit-learn", "PIL": "Pillow",
               "cv2": "opencv-python", "dateutil": "python-dateutil", "dotenv": "python-dotenv",
               "psycopg2": "psycopg2-binary",
               "jwt": "PyJWT", "MySQLdb": "mysqlclient", "Crypto": "pycryptodome", "docx": "python-docx",
               "magic": "python-magic", "slugify": "python-slugify", "attr": "attrs"}


def _install_hint(exc: BaseException) -> str:
    """For a module that is nowhere (not installed, not in the DAG folder): how to
    install it where flowctl runs, since a DAG file is imported by flowctl's Python."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return ""
    top = exc.name.split(".")[0]
    if top == "airflow" or top in sys.modules:
        return ""
    try:
        if importlib.util.find_spec(top) is not None:
            return ""  # the package is there and lacks a submodule: nothing to install
    except (ImportError, ValueError):
        return ""
    if top in _PACKAGE_OF:
        return (f"; flowctl imports DAG files with its own Python, which lacks it: install it there with "
                f"{sys.executable} -m pip install {_PACKAGE_OF[top]}")
    return (f"; if it is a package from the Python Package Index, install it into flowctl's own Python "
            f"({sys.executable} -m pip install {top}, if that is its name there); a module of yours belongs "
            f"in the DAG folder or plugins/")


def _specs_of_file(path: str, default_tz: str) -> dict[str, Any]:
    before = set(sys.modules)
    try:
        dags = import_dag_file(path)
        docs = [DagSpec.from_dag(d, path, default_tz).to_doc() for d in dags]
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything
        message, full = describe_exception(exc, path)
        failed = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
        if isinstance(exc, SyntaxError) and exc.filename:
            failed.append(exc.filename)  # a helper that does not parse is not in sys.modules
        return {"error": message, "traceback": full, "deps": _helpers_of(path, before, failed)}
    deps = _helpers_of(path, before)
    if deps:  # a changed helper is a changed DAG: a new fingerprint, so a new fork server
        mark = hashlib.sha256(json.dumps(sorted(deps.items())).encode()).hexdigest()
        for doc in docs:
            doc["fingerprint"] = hashlib.sha256((doc["fingerprint"] + mark).encode()).hexdigest()[:16]
    return {"dags": docs, "deps": deps}


def _helpers_of(path: str, before: set[str], failed: Iterable[str] = ()) -> dict[str, list[int]]:
    """The modules a DAG file's import brought in from the DAG folder or
    `plugins/` (`from common.helpers import ...`), and those an import error
    came from, each with its stamp: the cached import of the file holds only
    while none of them changed."""
    roots = tuple(entry.rstrip(os.sep) + os.sep for entry in _import_path(path, None)[1:])
    files = {getattr(sys.modules.get(name), "__file__", None) for name in set(sys.modules) - before}
    deps: dict[str, list[int]] = _store_files_read()
    for file in files | set(failed):
        if not file or file == path or not file.startswith(roots) or "site-packages" in file:
            continue
        try:
            st = os.stat(file)
        except OSError:
            continue
        deps[file] = [st.st_mtime_ns, st.st_size]
    return deps


ABSENT = [-1, -1]
"""The stamp of a file that was not there: it holds while the file stays away."""


def _store_files_read() -> dict[str, list[int]]:
    """The Variables and Connections files the import read (`Variable.get` at the
    top of a DAG file), each with its stamp: a set or deleted Variable is a changed
    DAG file, as Airflow's re-parsing would make it."""
    variables = sys.modules.get("flowctl.variables")
    out: dict[str, list[int]] = {}
    for file in getattr(variables, "FILES_READ", ()):
        try:
            st = os.stat(file)
        except OSError:
            out[file] = ABSENT
            continue
        out[file] = [st.st_mtime_ns, st.st_size]
    return out


def _start_child(path: str, default_tz: str) -> tuple[int, int]:
    """Fork a child that imports `path` and writes its specs as JSON to a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            variables = sys.modules.get("flowctl.variables")
            if variables is not None:
                variables.FILES_READ.clear()  # what this import reads, not what the command read before
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


def timed_out(timeout: float) -> dict[str, Any]:
    return {"error": f"timed out after {timeout:g} s while importing (dag_file_timeout)", "timed_out": timeout}


def _stderr_notice(line: str) -> None:
    try:
        sys.stderr.write(f"flowctl: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class _SlowNotice:
    """Says once, after a few seconds, which file a command is waiting on."""

    def __init__(self, notice: Callable[[str], None] | None, timeout: float) -> None:
        self.notice = notice
        self.timeout = timeout
        self.started = time.monotonic()
        self.said = False

    def next_check(self) -> float:
        return max(0.0, self.started + SLOW_NOTICE_AFTER - time.monotonic()) if not self.said else float("inf")

    def check(self, pending: list[str]) -> None:
        if self.said or self.notice is None or not pending:
            return
        waited = time.monotonic() - self.started
        if waited >= SLOW_NOTICE_AFTER:
            self.said = True
            more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
            self.notice(f"importing {os.path.basename(pending[0])}{more}: {waited:.0f} s ... "
                        f"(gives up after {self.timeout:g} s, dag_file_timeout)")


def _collect(children: dict[int, tuple[str, int]], timeout: float,
             slow: _SlowNotice | None = None) -> dict[str, dict[str, Any]]:
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
                results[path] = timed_out(timeout)
            break
        if slow is not None:
            slow.check([path for _, path in by_fd.values()])
        wait = min(remaining, slow.next_check()) if slow is not None else remaining
        ready, _, _ = select.select(list(by_fd), [], [], max(0.01, wait))
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
                    "error": f"the import process died ({_describe_status(status)})", "transient": True
                }
            except json.JSONDecodeError:
                results[path] = {"error": "the import process returned garbage", "transient": True}
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


def _import_files_in_subprocess(paths: list[str], default_tz: str, timeout: float,
                                slow: _SlowNotice | None = None) -> dict[str, dict[str, Any]]:
    """Where forking is unsafe (threads running, as in the TUI) use a fresh interpreter."""
    import subprocess

    results = {}
    env = {**os.environ, **({"FLOWCTL_DAGS_FOLDER": _dags_root} if _dags_root else {})}
    for path in paths:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "flowctl.loader", path, default_tz],
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                env=env,
            )
            results[path] = json.loads(proc.stdout.decode() or "{}") or {
                "error": f"the import process failed: {proc.stderr.decode()[-300:]}", "transient": True
            }
        except subprocess.TimeoutExpired:
            results[path] = timed_out(timeout)
        except json.JSONDecodeError:
            results[path] = {"error": "the import process returned garbage", "transient": True}
    return results


_PRELOAD = ("pendulum", "flowctl.authoring.dag", "flowctl.authoring.operators",
            "flowctl.authoring.decorators", "flowctl.authoring.sensors", "flowctl.timetables", "flowctl.specs",
            "flowctl.trigger_rules")
"""What every DAG file's import needs: imported once here, before forking, not once per child."""


def import_files(paths: list[str], default_tz: str, timeout: float, parallel: int,
                 notice: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    slow = _SlowNotice(notice, timeout)
    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return _import_files_in_subprocess(paths, default_tz, timeout, slow)
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    from flowctl.timetables import croniter_module

    croniter_module()  # most DAG files have a cron schedule
    results: dict[str, dict[str, Any]] = {}
    for i in range(0, len(paths), max(1, parallel)):
        batch = paths[i : i + max(1, parallel)]
        children = {}
        for path in batch:
            pid, fd = _start_child(path, default_tz)
            children[pid] = (path, fd)
        results.update(_collect(children, timeout, slow))
    return results


@functools.cache
def _code_stamp() -> str:
    """flowctl's own version and code: a cached spec made by other code is stale.
    Taken once per process: that is the code this process runs."""
    from flowctl import __version__

    newest, folders = 0, [os.path.dirname(__file__)]
    while folders:  # os.scandir: a third of what Path.rglob costs (this is on every command's path)
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                elif entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
    return f"{__version__}:{newest}"


class Loader:
    """Loads the DAG folder, re-importing only files whose content changed.

    `safe_mode` and `ignore_syntax` default to the settings read from the
    environment and flowctl.toml (config.safe_mode, config.ignore_file_syntax).
    """

    def __init__(self, folder: Path, cache_path: Path | None, default_tz: str, timeout: float, parallel: int = 0,
                 safe_mode: bool | None = None, ignore_syntax: str | None = None,
                 notice: Callable[[str], None] | None = _stderr_notice) -> None:
        from flowctl import config

        self.folder = folder
        self.cache_path = cache_path
        self.default_tz = default_tz
        self.timeout = timeout
        self.parallel = parallel or max(2, os.cpu_count() or 2) * 2
        self.safe_mode = config.safe_mode() if safe_mode is None else safe_mode
        self.ignore_syntax = config.ignore_file_syntax() if ignore_syntax is None else ignore_syntax
        self.notice = notice
        use_dags_folder(folder)
        if cache_path is not None:
            use_bytecode_folder(cache_path.parent / "bytecode")
        if cache_path is not None and cache_path.parent.name == "cache":
            from flowctl import variables

            variables.use_home(cache_path.parent.parent)  # Variable.get at a DAG file's top level
        self._cache: dict[str, dict[str, Any]] = self._read_cache()

    def _header(self) -> dict[str, Any]:
        return {"version": CACHE_VERSION, "default_tz": self.default_tz, "code": _code_stamp(),
                "safe_mode": self.safe_mode, "ignore_syntax": self.ignore_syntax, "folder": str(self.folder)}

    def _read_cache(self) -> dict[str, dict[str, Any]]:
        if self.cache_path is None:
            return {}
        try:
            doc = json.loads(self.cache_path.read_text())
            header = self._header()
            if all(doc.get(k) == v for k, v in header.items()):
                return doc["files"]
        except (OSError, ValueError, KeyError):
            pass
        return {}

    def _write_cache(self) -> None:
        if self.cache_path is None:
            return
        from flowctl.store import atomic_write

        doc = {**self._header(), "files": {p: e for p, e in self._cache.items() if not e.get("transient")}}
        try:
            atomic_write(self.cache_path, json.dumps(doc).encode(), fsync=False)
        except OSError:
            pass  # the cache is an optimisation; a read-only home still works

    def _still_good(self, cached: dict[str, Any] | None) -> bool:
        """A cached time-out holds unless the time limit has grown since; a
        cached import holds while the helper modules it imported are unchanged."""
        if not cached or cached.get("transient"):
            return False
        for file, stamp in (cached.get("deps") or {}).items():
            try:
                st = os.stat(file)
            except OSError:
                if stamp == ABSENT:
                    continue  # still not there
                return False
            if [st.st_mtime_ns, st.st_size] != stamp:
                return False
        limit = cached.get("timed_out")
        return limit is None or self.timeout <= limit

    def load(self) -> DagBag:
        # Safe mode is decided below, once per content, not by reading every file on every load.
        files = find_dag_files(self.folder, False, self.ignore_syntax)
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
            if cached and cached.get("stamp") == stamp and self._still_good(cached):
                fresh[key] = cached
                continue
            try:
                content = path.read_bytes()
            except OSError:
                continue
            digest = hashlib.sha256(content).hexdigest()
            if cached and cached.get("sha") == digest and self._still_good(cached):
                cached["stamp"] = stamp
                fresh[key] = cached
                continue
            fresh[key] = {"stamp": stamp, "sha": digest}
            lowered = content.lower()
            if self.safe_mode and b"dag" not in lowered and b"airflow" not in lowered:
                fresh[key]["skipped"] = True  # Airflow's safe mode: not a DAG file
                continue
            todo.append(key)
        if todo:
            results = import_files(todo, self.default_tz, self.timeout, self.parallel, self.notice)
            for path, result in results.items():
                fresh[path].update(result)
        changed = bool(todo) or set(fresh) != set(self._cache)
        self._cache = fresh
        if changed:
            self._write_cache()
        return self._bag(fresh)

    def _bag(self, entries: dict[str, dict[str, Any]]) -> DagBag:
        bag = DagBag()
        owners: dict[str, list[str]] = {}
        specs: dict[tuple[str, str], DagSpec] = {}
        for path in sorted(entries):
            entry = entries[path]
            if entry.get("skipped"):
                continue
            bag.files[path] = entry.get("sha", "")
            if "error" in entry:
                bag.errors.append(ImportErrorRecord(path, entry["error"], entry.get("traceback", "")))
                continue
            for doc in entry.get("dags", []):
                spec = DagSpec.from_doc(doc)
                if path not in owners.setdefault(spec.dag_id, []):
                    owners[spec.dag_id].append(path)
                specs[(spec.dag_id, path)] = spec
        for dag_id, paths in owners.items():
            if len(paths) == 1:
                spec = specs[(dag_id, paths[0])]
                bag.dags[dag_id] = spec
                bag.warnings.extend(WarningRecord(spec.fileloc, dag_id, w) for w in spec.warnings)
                continue
            for path in paths:
                others = ", ".join(p for p in paths if p != path)
                bag.errors.append(ImportErrorRecord(
                    path, f"DAG id {dag_id!r} is defined in several files: {path} and {others}; "
                          "it is not loaded until only one file defines it"))
        bag.errors.sort(key=lambda e: e.fileloc)
        return bag


if __name__ == "__main__":  # the subprocess fallback of import_files
    print(json.dumps(_specs_of_file(sys.argv[1], sys.argv[2]), default=str))
