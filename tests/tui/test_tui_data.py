"""What the TUI reads off the UI thread: store snapshots and log tails."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from tui_support import ETL_DAG, make_service, put_run

from flowctl.tui.data import SnapshotLoader, read_from, read_tail
from flowctl.tui.views import GRID_RUNS, MAIN_RUNS

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_tail_reads_only_the_end_from_a_whole_line(tmp_path):
    """A big log opens at its last bytes, starting at a line boundary."""
    path = tmp_path / "1.log"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    text, end, skipped = read_tail(path, max_bytes=100)
    assert end == path.stat().st_size
    assert text.endswith("line 999\n") and text.startswith("line ")
    assert skipped == end - len(text.encode())
    assert len(text) <= 100


def test_tail_of_a_small_or_missing_log(tmp_path):
    """A small log is read whole; a missing one is empty."""
    path = tmp_path / "1.log"
    path.write_text("a\nb\n")
    assert read_tail(path) == ("a\nb\n", 4, 0)
    assert read_tail(tmp_path / "none.log") == ("", 0, 0)


def test_following_hands_out_whole_lines(tmp_path):
    """Following returns what was appended, holding back a half-written line."""
    path = tmp_path / "1.log"
    path.write_text("one\n")
    text, off = read_from(path, 0)
    assert (text, off) == ("one\n", 4)
    with path.open("a") as f:
        f.write("two\nthr")
    text, off = read_from(path, off)
    assert (text, off) == ("two\n", 8)
    assert read_from(path, off) == ("thr", 11)  # no line end at all: hand it out
    path.write_text("new\n")  # replaced by a shorter file: start again
    assert read_from(path, 11) == ("new\n", 4)


def seed(flow, days: int) -> object:
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    for d in range(days):
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=d)
        put_run(service, "etl", when, "success",
                {t: {"state": "success", "start": when, "end": when + timedelta(minutes=1)}
                 for t in ("extract", "transform", "load")})
    return service


def test_snapshot_reads_the_newest_runs_and_every_active_one(flow):
    """The main screen reads MAIN_RUNS runs per DAG; an open DAG GRID_RUNS;
    an active run is always read, however old."""
    service = seed(flow, GRID_RUNS + 5)
    old = service.store.run_ids("etl")[0]
    with service.store.transaction() as tx:
        tx.run("etl", old).update_run(state="running")
    loader = SnapshotLoader(service)
    snap = loader.load(NOW)
    ids = [r.run_id for r in snap.runs["etl"]]
    assert len(ids) == MAIN_RUNS + 1 and ids[-1] == old
    assert ids[0] == service.store.run_ids("etl")[-1]
    assert snap.run_counts["etl"] == GRID_RUNS + 5
    detail = loader.load(NOW, detail={"etl"})
    assert len(detail.runs["etl"]) == GRID_RUNS + 1


def test_an_unchanged_store_gives_the_same_snapshot(flow):
    """With no commit and no DAG file change, a load reports no change."""
    service = seed(flow, 2)
    loader = SnapshotLoader(service)
    first = loader.load(NOW)
    assert loader.changed
    again = loader.load(NOW, previous=first, with_scheduler=False)
    assert again is first and not loader.changed
    service.set_paused("etl", True)
    third = loader.load(NOW, previous=first)
    assert loader.changed and third.paused("etl")


def test_next_run_is_the_one_the_scheduler_creates_next(flow):
    """The next run is what `dags list` (the scheduler's function) says: without
    catch-up the latest complete interval; with it, the first interval after the
    newest scheduled run."""
    service = seed(flow, 3)
    snap = SnapshotLoader(service).load(NOW)
    assert snap.next_runs["etl"] == "2026-03-01T00:00:00+00:00"
    assert snap.next_runs["etl"] == service.next_run(service.dag("etl"), NOW).start.isoformat()
    flow.write_dag("etl.py", ETL_DAG.replace("catchup=False", "catchup=True"))
    service = make_service(flow)
    snap = SnapshotLoader(service).load(NOW)
    assert snap.next_runs["etl"] == "2026-01-04T00:00:00+00:00"


# -- who carries a run out -------------------------------------------------------------------


def _owned_run(service, owner):
    when = datetime(2026, 2, 1, tzinfo=UTC)
    run_id = put_run(service, "etl", when, "running", {
        "extract": {"state": "success", "start": when, "end": when + timedelta(minutes=1)},
        "transform": {"state": "running", "start": when + timedelta(minutes=1)},
        "load": {"state": "none", "try": 0}})
    with service.store.transaction() as tx:
        tx.run("etl", run_id).update_run(owner=owner)
    return run_id


def test_a_run_whose_owner_lives_is_carried_by_it_and_waits_once_it_dies(flow):
    """A running run owned by a live foreground `run` reads "run pid N"; once
    that process dies (no commit says so) the next status look shows it
    waiting, since no scheduler runs either."""
    from flowctl.store import process_start_time

    service = seed(flow, 0)
    proc = subprocess.Popen(["sleep", "60"])
    try:
        owner = {"pid": proc.pid, "started": process_start_time(proc.pid), "hostname": socket.gethostname(),
                 "kind": "run"}
        run_id = _owned_run(service, owner)
        loader = SnapshotLoader(service)
        snap = loader.load(NOW)
        info = snap.run("etl", run_id)
        assert info.carrier == f"run pid {proc.pid}" and not info.waiting
        same, changed = loader.recheck(snap)
        assert not changed and same.run("etl", run_id).carrier == info.carrier
    finally:
        proc.kill()
        proc.wait()
    after, changed = loader.recheck(snap)
    assert changed
    info = after.run("etl", run_id)
    assert info.carrier is None and info.waiting and info.shown_state == "waiting"


def test_an_owner_without_a_kind_is_named_by_its_pid(flow):
    """The engine's owner may lack `kind`: it is the scheduler when the pids
    match, else a process; an ownerless run is the running scheduler's."""
    from flowctl.store import owner_identity
    from flowctl.tui.data import carrier_of

    service = seed(flow, 0)
    me = owner_identity()
    run_id = _owned_run(service, me)
    info = SnapshotLoader(service).load(NOW).run("etl", run_id)
    assert carrier_of(info, {"running": True, "pid": me["pid"]}) == f"scheduler pid {me['pid']}"
    assert carrier_of(info, {"running": False}) == f"process pid {me['pid']}"
    nobody = replace(info, run={**info.run, "owner": None})
    assert carrier_of(nobody, {"running": True, "pid": 12}) == "scheduler pid 12"
    assert carrier_of(nobody, {"running": False}) is None


def test_an_owner_without_a_kind_is_named_from_its_command_line():
    """Until the engine records `kind`, a live owner's command line tells a
    foreground `flowctl run` from a `flowctl backfill`."""
    import sys

    from flowctl.tui.data import command_kind

    for word in ("run", "backfill"):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "flowctl", "--home", "h", word])
        try:
            deadline = time.monotonic() + 10
            while command_kind(proc.pid) != word and time.monotonic() < deadline:
                time.sleep(0.05)
            assert command_kind(proc.pid) == word
        finally:
            proc.kill()
            proc.wait()
    assert command_kind(os.getpid()) == "process" and command_kind(None) == "process"
