"""`flowctl doctor`: check the home and say what is wrong and what to do.

Checks: every state file can be read, parses and has this flowctl's schema;
the index of active runs matches the run files; no task instance is marked
running with nobody running it; files and folders are the user's only.
`--fix` does the safe repairs: permissions back to 0600/0700 (which also
makes an unreadable file readable again), the index rebuilt from the run
files (a damaged one is moved aside, never deleted), temp files of killed
writers removed. It never rewrites a damaged run file: it names it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowctl.errors import StoreCorrupt
from flowctl.procs import owner_alive
from flowctl.records import RunKey
from flowctl.states import RUN_FINISHED
from flowctl.store import Store, parse_state_file


@dataclass
class Finding:
    problem: str
    fix: str
    path: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _mode_problems(store: Store, fix: bool, done: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    fixed = 0
    roots = [store.root, store.home / "logs"]
    walked = [(folder, dirs, files) for root in roots if root.exists() for folder, dirs, files in os.walk(root)]
    for root in roots[1:]:
        if root.exists():
            walked.insert(0, (str(root.parent), [root.name], []))  # the logs folder itself
    for folder, dirs, files in walked:
        for name in [*dirs, *files]:
            path = Path(folder) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            mode = stat.S_IMODE(st.st_mode)
            if not mode & 0o077 and mode & want == want:
                continue
            if fix:
                try:
                    os.chmod(path, want)
                    fixed += 1
                    continue
                except OSError as exc:
                    findings.append(Finding(f"{path} has mode {mode:o} and cannot be changed ({exc.strerror})",
                                            f"chmod {want:o} {path} as its owner", str(path)))
                    continue
            what = "folder" if stat.S_ISDIR(st.st_mode) else "file"
            if mode & 0o077:
                problem = f"{what} {path} is readable by others (mode {mode:o})"
            else:
                problem = f"{what} {path} is not readable and writable by you (mode {mode:o})"
            findings.append(Finding(problem, f"chmod {want:o} {path}, or run `flowctl doctor --fix`", str(path)))
    if fixed:
        done.append(f"set the permissions of {fixed} file(s) and folder(s) back to the user's only")
    return findings


LOW_SPACE = 50 * 1024 * 1024  #: below this much free space, commits may soon be refused


def _disk_problems(home: Path) -> list[Finding]:
    """A home that cannot take a commit: on a read-only file system, not writable
    by you, or on a disk nearly full. Every command that records state needs it."""
    try:
        fs = os.statvfs(home)
    except OSError:
        return []
    other = "or choose another home with --home or FLOWCTL_HOME"
    if fs.f_flag & os.ST_RDONLY:
        return [Finding(f"the home {home} is on a read-only file system: no run, result or setting can be "
                        f"recorded", f"remount it read-write, {other}", str(home))]
    if not os.access(home, os.W_OK | os.X_OK):
        return [Finding(f"the home {home} is not writable by you: no run, result or setting can be recorded",
                        f"chmod u+rwx {home} as its owner, {other}", str(home))]
    free = fs.f_bavail * fs.f_frsize
    if free < LOW_SPACE:
        return [Finding(f"the disk holding the home {home} has {free // (1024 * 1024)} MB free: commits are "
                        f"refused when it is full (what was committed stays intact)", "free some space", str(home))]
    return []


def check(home: Path, fix: bool = False) -> tuple[list[Finding], list[str]]:
    """(findings, repairs done)."""
    from flowctl.engine.daemon import is_running

    store = Store(home)
    findings: list[Finding] = []
    done: list[str] = []
    findings += _disk_problems(home)
    if not store.root.exists():
        return findings, done
    findings += _mode_problems(store, fix, done)
    scheduler_up = is_running(home)
    damaged: list[tuple[RunKey, str]] = []
    active_files: set[RunKey] = set()
    for dag_id in store.dag_ids_with_runs():
        try:
            run_ids = store.run_ids(dag_id)
        except StoreCorrupt as exc:
            findings.append(Finding(str(exc), f"chmod 700 {store.paths.dag_runs(dag_id)}, or run `flowctl doctor --fix`",
                                    str(store.paths.dag_runs(dag_id))))
            continue
        for run_id in run_ids:
            key = RunKey(dag_id, run_id)
            try:
                stored = store.read_run(*key)
            except StoreCorrupt as exc:
                damaged.append((key, str(exc)))
                continue
            if stored is None:
                continue
            run = stored.record
            if run.state not in RUN_FINISHED:
                active_files.add(key)
                if not owner_alive(run.owner) and not scheduler_up:
                    stuck = sorted(k.label() for k, ti in stored.tis.items() if ti.state in ("running", "queued"))
                    if stuck:
                        findings.append(Finding(
                            f"run {run_id} of {dag_id} has task(s) marked running whose process is gone: "
                            f"{', '.join(stuck)}",
                            "start the scheduler (`flowctl scheduler --until-idle` or --daemon): it runs them again",
                            str(store.run_path(*key))))
    for key, why in damaged:
        path = store.run_path(*key)
        findings.append(Finding(why, f"the run cannot be read: move {path} aside (e.g. `mv {path} {path}.damaged`); "
                                     f"its run is then gone from the listings and can be made again", str(path)))
    try:  # asset events (assetlog.py): a bad line followed by good ones
        from flowctl import assetlog

        assetlog.events(store)
    except StoreCorrupt as exc:
        path = assetlog.journal_path(store)
        findings.append(Finding(str(exc), f"move {path} aside (e.g. `mv {path} {path}.damaged`): the asset "
                                          f"events it holds are then forgotten, and DAGs scheduled on assets "
                                          f"wait for new ones", str(path)))
    for path in (store.index_path, store.flags_path, store.pools_path, store.slots_path):
        try:
            if path.exists():
                parse_state_file(path)
        except StoreCorrupt as exc:
            if fix and path in (store.index_path, store.slots_path):
                moved = store.set_aside(path)
                what = "index" if path == store.index_path else "slot ledger"
                done.append(f"moved the damaged {what} aside to {moved}")
            elif path == store.index_path:
                findings.append(Finding(str(exc), "run `flowctl doctor --fix`: it rebuilds the index from the run "
                                                  "files and keeps the damaged copy aside", str(path)))
            elif path == store.slots_path:
                findings.append(Finding(str(exc), "run `flowctl doctor --fix`: it moves the slot ledger aside (the "
                                                  "processes that carry runs out write their entries again)",
                                        str(path)))
            elif path == store.pools_path:
                findings.append(Finding(str(exc), f"move {path} aside and set your pools again "
                                                  f"(`flowctl pools set NAME SLOTS`)", str(path)))
            else:
                findings.append(Finding(str(exc), f"move {path} aside; the DAGs it paused are then unpaused "
                                                  f"(pause them again)", str(path)))
    try:
        indexed = set(store.active_runs()) if store.index_path.exists() else set()
    except StoreCorrupt:
        indexed = set()
    missing = active_files - indexed
    extra = {k for k in indexed - active_files if k not in {d for d, _ in damaged}}
    if missing or extra or (fix and not store.index_path.exists() and active_files):
        if fix:
            with store.transaction() as tx:
                tx.set_active(active_files)
            done.append(f"rebuilt the index of active runs ({len(active_files)} run(s))")
        else:
            names = ", ".join(f"{k.dag_id}/{k.run_id}" for k in sorted(missing | extra))
            findings.append(Finding(f"the index of active runs is out of date ({names})",
                                    "run `flowctl doctor --fix` to rebuild it", str(store.index_path)))
    temps = store.stale_temps()
    if temps:
        if fix:
            removed = store.remove_stale_temps()
            done.append(f"removed {removed} temp file(s) left by killed writers")
        else:
            findings.append(Finding(f"{len(temps)} temp file(s) left by killed writers (harmless)",
                                    "run `flowctl doctor --fix` to remove them"))
    return findings, done


def home_mode_findings(home: Path, fix: bool = False) -> list[Finding]:
    try:
        mode = stat.S_IMODE(os.stat(home).st_mode)
    except OSError:
        return []
    if not mode & 0o077:
        return []
    if fix:
        try:
            os.chmod(home, 0o700)
            return []
        except OSError:
            pass
    return [Finding(f"the home {home} is readable by others (mode {mode:o})", f"chmod 700 {home}", str(home))]
