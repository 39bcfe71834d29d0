"""`flowctl doctor`: check the home and say what is wrong and what to do.

Checks: every state file parses and has this flowctl's schema; the index of
active runs matches the run files; no task instance is marked running with
nobody running it; files and folders are readable by the user only.
`--fix` does the safe repairs: rebuild the index from the run files and remove
temp files left by killed writers. It never touches a damaged file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowctl.errors import StoreCorrupt
from flowctl.store import Store, owner_alive, parse_state_file


@dataclass
class Finding:
    problem: str
    fix: str
    path: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def check(home: Path, fix: bool = False) -> tuple[list[Finding], list[str]]:
    """(findings, repairs done)."""
    from flowctl.engine.daemon import is_running

    store = Store(home)
    findings: list[Finding] = []
    done: list[str] = []
    if not store.root.exists():
        return findings, done
    active_files: set[tuple[str, str]] = set()
    temps: list[Path] = []
    scheduler_up = is_running(home)
    for path in sorted(store.root.rglob("*")):
        if path.is_dir():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                findings.append(Finding(f"folder {path} is readable by others (mode {mode:o})", f"chmod 700 {path}", str(path)))
            continue
        if _is_temp(path.name):
            temps.append(path)
            continue
        if path.name in (".lock", "seq"):
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            findings.append(Finding(f"file {path} is readable by others (mode {mode:o})", f"chmod 600 {path}", str(path)))
        if path.suffix != ".json":
            continue
        try:
            data = parse_state_file(path)
        except StoreCorrupt as exc:
            findings.append(Finding(str(exc), f"move {path} aside (e.g. to {path}.damaged); its run is then gone from the listings", str(path)))
            continue
        if path.parent.parent == store.runs_dir:
            run = next(iter(data.get("run", {}).values()), {})
            key = (path.parent.name, path.name[:-5])
            if run.get("state") in ("queued", "running"):
                active_files.add(key)
                if not owner_alive(run.get("owner")):
                    stuck = [t["task_id"] for t in data.get("task_instances", {}).values() if t.get("state") in ("running", "queued")]
                    if stuck and not scheduler_up:
                        findings.append(Finding(
                            f"run {key[1]} of {key[0]} has task(s) marked running whose process is gone: {', '.join(stuck)}",
                            "start the scheduler (`flowctl scheduler --until-idle` or --daemon): it runs them again", str(path)))
    try:
        indexed = set(store.active_runs())
    except StoreCorrupt:
        indexed = set()
    missing = active_files - indexed
    if missing:
        names = ", ".join(f"{d}/{r}" for d, r in sorted(missing))
        if fix:
            rebuild_index(store, active_files)
            done.append(f"rebuilt the index of active runs ({len(active_files)} run(s))")
        else:
            findings.append(Finding(f"active run(s) missing from the index, so no scheduler sees them: {names}",
                                    "run `flowctl doctor --fix` to rebuild the index", str(store.index_path)))
    if temps:
        if fix and not scheduler_up:
            for t in temps:
                t.unlink(missing_ok=True)
            done.append(f"removed {len(temps)} temp file(s) left by killed writers")
        elif not fix:
            findings.append(Finding(f"{len(temps)} temp file(s) left by killed writers (harmless)",
                                    "run `flowctl doctor --fix` with no scheduler running to remove them"))
    return findings, done


def rebuild_index(store: Store, active: set[tuple[str, str]]) -> None:
    """Make the index's active set exactly the runs whose files say active."""
    with store.transaction() as tx:
        db = tx._index_db()
        table = db.table("active")
        table.truncate()
        for dag_id, run_id in sorted(active):
            table.insert({"dag_id": dag_id, "run_id": run_id})


def home_mode_findings(home: Path) -> list[Finding]:
    if home.exists() and stat.S_IMODE(os.stat(home).st_mode) & 0o077:
        return [Finding(f"the home {home} is readable by others", f"chmod 700 {home}", str(home))]
    return []
