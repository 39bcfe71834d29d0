"""What the TUI shows without a key pressed: new and broken DAG files, who
carries the runs out (or that nobody does), and time going by; and the
words beside the colours."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import Checkbox
from tui_support import ETL_DAG, FLAKY_DAG, make_service, put_run, run_async, settle

from flowctl.clock import FakeClock
from flowctl.store import process_start_time
from flowctl.tui.app import FlowctlApp
from flowctl.tui.screens.dag import DagScreen
from flowctl.tui.screens.errors import ErrorsScreen
from flowctl.tui.screens.modals import ClearScreen, ConfirmScreen, MarkScreen
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.widgets.dag_table import DagTable
from flowctl.tui.widgets.grid import GridTable

pytestmark = pytest.mark.timeout(60)

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NOW = DAY + timedelta(days=1, minutes=10)


def header(app) -> str:
    return str(app.screen.query_one("#status").render())


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def running_run(service, owner=None) -> str:
    """etl's run of DAY: extract done, transform running since NOW - 5 min, load waiting."""
    ran = DAY + timedelta(days=1)
    run_id = put_run(service, "etl", DAY, "running", {
        "extract": {"state": "success", "start": ran, "end": ran + timedelta(minutes=1)},
        "transform": {"state": "running", "start": NOW - timedelta(minutes=5)},
        "load": {"state": "none", "try": 0}})
    if owner is not None:
        with service.store.transaction() as tx:
            tx.run("etl", run_id).update_run(owner=owner)
    return run_id


def owner_of(proc: subprocess.Popen, kind: str) -> dict:
    return {"pid": proc.pid, "started": process_start_time(proc.pid), "hostname": socket.gethostname(), "kind": kind}


# -- the DAG folder, followed --------------------------------------------------------------------


@run_async
async def test_a_new_dag_file_and_a_broken_one_show_within_two_seconds(flow):
    """A DAG file added while the TUI runs is in the table within 2 s, no key
    pressed; a file that fails to import raises the banner just as fast."""
    flow.write_dag("etl.py", ETL_DAG)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        assert table.row_count == 1
        await asyncio.sleep(0.3)
        flow.write_dag("flaky.py", FLAKY_DAG)
        written = time.monotonic()
        await settle(pilot, lambda: table.row_count == 2, timeout=5)
        assert time.monotonic() - written < 2.0
        assert table.get_cell("flaky", "schedule").plain == "manual"
        flow.write_dag("broken.py", "import nonexistent_module_xyz  # dag\n")
        written = time.monotonic()
        banner = app.screen.query_one("#banner")
        await settle(pilot, lambda: banner.display and "broken.py" in str(banner.render()), timeout=5)
        assert time.monotonic() - written < 2.0


@run_async
async def test_the_errors_screen_says_when_the_last_error_is_fixed(flow):
    """Once the broken file is fixed, the open errors screen says there are
    none, without the hint on how to fix one."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("broken.py", "import nonexistent_module_xyz  # a broken dag file\n")
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        assert isinstance(app.screen, ErrorsScreen)
        assert "Fix the file and save it" in text_of(app, "#errortext")
        flow.write_dag("broken.py", FLAKY_DAG)
        await settle(pilot, lambda: "No import errors" in text_of(app, "#errortext"), timeout=5)
        assert text_of(app, "#errortext") == "No import errors: every DAG file loads."


@run_async
async def test_a_changed_dag_file_changes_the_open_grid(flow):
    """A task added to the DAG file shows as a new grid row within 2 s."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    running_run(service)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_dag("etl")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        grid = app.screen.query_one(GridTable)
        flow.write_dag("etl.py", ETL_DAG + "    report = BashOperator(task_id='report', bash_command='echo')\n"
                                           "    load >> report\n")
        written = time.monotonic()
        await settle(pilot, lambda: "report" in [r.key for r in grid.model.rows], timeout=5)
        assert time.monotonic() - written < 2.0
        assert [r.key for r in grid.model.rows][-2:] == ["load", "report"]  # upstream first


@run_async
async def test_an_unchanged_folder_and_store_redraw_nothing(flow):
    """Looking at the DAG folder every second costs a stat per file and
    redraws nothing while nothing changed."""
    flow.write_dag("etl.py", ETL_DAG)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = app.refreshes
        await pilot.pause(2.5)
        assert app.refreshes == first


# -- who carries the runs out ----------------------------------------------------------------------


@run_async
async def test_a_run_nobody_carries_out_reads_waiting(flow):
    """With no scheduler and no owner, a running run reads `waiting` in the
    DAG table, the header counts it, and the open run's header says why."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    run_id = running_run(service)
    app = FlowctlApp(service, clock=FakeClock(NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        assert table.get_cell("etl", "last run").plain == "waiting 03-01 00:00"
        assert "○ no scheduler (S starts one) │ 1 run waiting │" in header(app)
        app.open_dag("etl", run_id)
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        runline = text_of(app, "#runline")
        assert "w waiting (running; no process carries it out: S starts a scheduler)" in runline
        assert app.screen.query_one(GridTable).model.cell("__run__", run_id) == ("waiting", 0)


@run_async
async def test_a_foreground_run_carries_its_run_until_it_dies(flow):
    """A run owned by a live `flowctl run` process reads running, and the
    header names that process; once it is killed (no commit says so) the run
    reads waiting within a status look (2 s)."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    proc = subprocess.Popen(["sleep", "60"])
    try:
        run_id = running_run(service, owner_of(proc, "run"))
        app = FlowctlApp(service, clock=FakeClock(NOW))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            table = app.screen.query_one(DagTable)
            assert table.get_cell("etl", "last run").plain == "running 03-01 00:00"
            assert f"● run pid {proc.pid}: etl" in header(app) and "waiting" not in header(app)
            app.open_dag("etl", run_id)
            await settle(pilot, lambda: isinstance(app.screen, DagScreen))
            assert f"R running  by run pid {proc.pid}" in text_of(app, "#runline")
            proc.kill()
            proc.wait()
            killed = time.monotonic()
            await settle(pilot, lambda: "w waiting" in text_of(app, "#runline"), timeout=6)
            assert time.monotonic() - killed < 3.0
            assert "1 run waiting" in header(app)
    finally:
        proc.kill()
        proc.wait()


async def mark_success(pilot, run_id: str, task_id: str) -> None:
    """In the open grid: the task's cell in the run, `s`, `y`; then wait for the notice of what changed."""
    app = pilot.app
    app._notifications.clear()
    app.screen.query_one(GridTable).select(task_id, run_id)
    await settle(pilot, lambda: (app.screen.current_run(), app.screen.current_task()) == (run_id, task_id))
    await pilot.press("s")
    await settle(pilot, lambda: isinstance(app.screen, MarkScreen))
    await pilot.press("y")
    await settle(pilot, lambda: any(n.title == "Done" for n in app._notifications))
    await settle(pilot)


def scheduler_offered(app) -> bool:
    return isinstance(app.screen, ConfirmScreen) or any("No scheduler" in n.message for n in app._notifications)


@run_async
async def test_a_mark_offers_no_scheduler_for_a_run_that_is_over_or_carried(flow):
    """Marking success offers a scheduler only when the run is left waiting:
    not when the mark finishes the run, nor while its own foreground `run`
    lives to carry it out; it does once that process is gone and the run
    still has a task to run."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    ran = DAY + timedelta(days=1)
    done = {"state": "success", "start": ran, "end": ran + timedelta(minutes=1)}
    put_run(service, "etl", DAY - timedelta(days=1), "failed", {
        "extract": done, "transform": done, "load": {**done, "state": "failed"}})
    proc = subprocess.Popen(["sleep", "60"])
    try:
        carried = running_run(service, owner_of(proc, "run"))
        app = FlowctlApp(service, clock=FakeClock(NOW))
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            finished = service.store.run_ids("etl")[0]
            app.open_dag("etl", finished)
            await settle(pilot, lambda: isinstance(app.screen, DagScreen) and app.screen.current_run() == finished)
            await mark_success(pilot, finished, "load")
            assert service.run_doc("etl", finished)["state"] == "success"
            assert not scheduler_offered(app)
            await mark_success(pilot, carried, "transform")
            assert service.run_doc("etl", carried)["state"] in ("queued", "running")  # load is still to run
            assert not scheduler_offered(app)
            proc.kill()
            proc.wait()
            await mark_success(pilot, carried, "extract")  # load still to run, and nobody to run it
            await settle(pilot, lambda: scheduler_offered(app))
    finally:
        proc.kill()
        proc.wait()


@run_async
async def test_header_names_a_backfill_started_here(flow):
    """A backfill the TUI started is in the header with its pid and DAG from
    its start, before it owns a run."""
    flow.write_dag("etl.py", ETL_DAG)
    app = FlowctlApp(make_service(flow))
    proc = subprocess.Popen(["sleep", "60"])
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.backfills.append(("etl", proc, flow.root / "backfill.log"))
            await settle(pilot, lambda: f"● backfill pid {proc.pid} (started here): etl" in header(app), timeout=3)
            proc.kill()
            proc.wait()
            await settle(pilot, lambda: "backfill" not in header(app), timeout=3)
    finally:
        proc.kill()
        proc.wait()


# -- time going by ---------------------------------------------------------------------------------


@run_async
async def test_took_so_far_moves_every_second(flow):
    """A running task's and its run's "took X so far" move on once a second
    with no commit and no key, in the grid's details, the run's header and
    the task screen."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    run_id = running_run(service)
    clock = FakeClock(NOW)
    app = FlowctlApp(service, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_dag("etl", run_id)
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        await pilot.press("j")
        assert app.screen.current_task() == "transform"
        assert "took 5m00s so far" in text_of(app, "#details")
        clock.advance(7)
        await pilot.pause(1.2)
        assert "took 5m07s so far" in text_of(app, "#details")
        assert "so far" in text_of(app, "#runline")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen) and "so far" in text_of(app, "#details"))
        assert "took 5m07s so far" in text_of(app, "#details")
        clock.advance(3)
        await pilot.pause(1.2)
        assert "took 5m10s so far" in text_of(app, "#details")


# -- words beside the colours --------------------------------------------------------------------


@run_async
async def test_clear_dialog_shows_its_toggle_keys_and_states_in_words(flow):
    """Each toggle of the clear dialog says its key and whether it is on, in
    text; the mark dialog's downstream toggle too."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    running_run(service)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_dag("etl")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, ClearScreen) and app.screen.plan is not None)

        def labels() -> list[str]:
            return [str(box.label) for box in app.screen.query(Checkbox)]

        assert labels() == ["[u] upstream: off", "[d] downstream: off", "[o] only failed: off"]
        await pilot.press("d", "o")
        await settle(pilot)
        assert labels() == ["[u] upstream: off", "[d] downstream: ON", "[o] only failed: ON"]
        await pilot.press("o")
        assert labels()[2] == "[o] only failed: off"
        await pilot.press("escape", "s")
        assert isinstance(app.screen, MarkScreen)
        assert labels() == ["[d] downstream: off"]
        await pilot.press("d")
        assert labels() == ["[d] downstream: ON"]


@run_async
async def test_command_palette_lists_each_command_once(flow):
    """On every screen the command palette has no two commands of one title,
    and one "Keys" (ours: the `?` screen)."""
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    run_id = running_run(service)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)

        def titles() -> list[str]:
            return [c.title for c in app.get_system_commands(app.screen)]

        seen = []
        for opener in (lambda: None, lambda: app.open_dag("etl"), lambda: app.open_task("etl", run_id, "extract"),
                       app.action_show_errors):
            opener()
            await settle(pilot)
            names = titles()
            assert len(names) == len(set(names)), names
            assert names.count("Keys") == 1
            seen.append(type(app.screen).__name__)
        assert seen == ["MainScreen", "DagScreen", "TaskScreen", "ErrorsScreen"]
        assert "Import errors" not in titles() and isinstance(app.screen, ErrorsScreen)
