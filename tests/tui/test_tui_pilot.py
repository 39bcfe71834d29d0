"""The TUI driven by keys (Textual's pilot), checked against the state store."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual import events
from textual.widgets import DataTable, Input, Log
from tui_support import ETL_DAG, FLAKY_DAG, make_service, on_screen, run_async, settle

from flowctl.tui.app import FlowctlApp
from flowctl.tui.screens.assets import AssetsScreen
from flowctl.tui.screens.dag import DagScreen
from flowctl.tui.screens.errors import ErrorsScreen
from flowctl.tui.screens.main import MainScreen
from flowctl.tui.screens.modals import (
    BackfillScreen,
    ClearScreen,
    ConfirmScreen,
    HelpScreen,
    MarkScreen,
    TriggerScreen,
)
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.widgets.dag_table import DagTable
from flowctl.tui.widgets.dag_tree import DagTree
from flowctl.tui.widgets.grid import GridTable

pytestmark = pytest.mark.timeout(60)


def states(service, dag_id: str, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in service.task_states(dag_id, run_id)}


def last_line(log: Log) -> str:
    return next((line for line in reversed(log.lines) if line), "")


@pytest.fixture
def etl(flow):
    """The etl DAG with one successful run made by the real `flowctl run`."""
    flow.write_dag("etl.py", ETL_DAG)
    result = flow("run", "etl")
    assert result.code == 0, result.err
    return make_service(flow)


@pytest.fixture
def flaky(flow):
    """The flaky DAG with one failed run: fetch success, parse failed, store upstream_failed."""
    flow.write_dag("flaky.py", FLAKY_DAG)
    result = flow("run", "flaky")
    assert result.code == 1
    return make_service(flow)


async def open_grid(pilot, dag_id: str) -> GridTable:
    app = pilot.app
    app.open_dag(dag_id)
    await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                 and app.screen.query_one(GridTable).model is not None
                 and bool(app.screen.query_one(GridTable).model.runs))
    return app.screen.query_one(GridTable)


@run_async
async def test_tree_opens_a_dags_grid(etl):
    """From the DAG tree, Enter on a DAG opens its grid: a column per run in
    the store, a row per task, each cell the task instance's state."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(DagTree)
        assert tree.selected is not None and tree.selected.kind == "group"
        await pilot.press("down")
        assert tree.selected.kind == "dag" and tree.selected.dag_id == "etl"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        grid = app.screen.query_one(GridTable)
        run_ids = service.store.run_ids("etl")
        assert [r.run_id for r in grid.model.runs] == run_ids
        assert [r.task_id for r in grid.model.rows if r.kind == "task"] == ["extract", "transform", "load"]
        for tid, state in states(service, "etl", run_ids[0]).items():
            assert grid.model.cell(tid, run_ids[0]) == (state, 1)
        assert app.screen.current_task() == "extract"


@run_async
async def test_tree_expands_to_runs_and_task_instances(etl):
    """Expanding a DAG in the tree shows its runs; expanding a run shows its
    task instances with their states as letters and words."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "right", "down", "right", "down")
        tree = app.screen.query_one(DagTree)
        node = tree.selected
        assert node is not None and node.kind == "ti" and node.task_id == "extract"
        label = "".join(t for t, _ in node.label)
        assert label.startswith("S extract") and "success" in label


@run_async
async def test_opening_a_task_shows_its_log(etl):
    """Enter on a grid cell opens the task instance: its details, with the
    reason `explain` gives, and the log of its latest try."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen)
                     and any("extracting" in line for line in app.screen.query_one(Log).lines))
        screen = app.screen
        assert (screen.dag_id, screen.task_id) == ("etl", "extract")
        run_id = service.store.run_ids("etl")[0]
        path = service.log_path("etl", run_id, "extract", None)
        assert "\n".join(screen.query_one(Log).lines).strip() == path.read_text().strip()
        assert screen.explained["tasks"][0]["reason"] == "succeeded on try 1"
        await pilot.press("escape")
        assert isinstance(app.screen, DagScreen)


@run_async
async def test_trigger_queues_a_run_with_conf(etl):
    """`t`, a conf JSON and Enter queue a manual run with that conf; with no
    scheduler running the app says so and offers to start one."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        assert isinstance(app.screen, TriggerScreen)
        app.screen.query_one("#conf", Input).value = '{"limit": 3}'
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "scheduler" in app.screen.title_text.lower()
        await pilot.press("n")
        await settle(pilot, lambda: len(service.store.run_ids("etl")) == 2)
    new = [r for r in service.list_runs("etl") if r["conf"] == {"limit": 3}]
    assert len(new) == 1 and new[0]["state"] == "queued" and new[0]["run_type"] == "manual"


@run_async
async def test_clear_with_downstream_resets_the_task_and_what_follows(etl):
    """`c` on a task, `d` for downstream and `y` reset it and its downstream
    tasks to no state (the try count stays) and queue the run again."""
    service = etl
    run_id = service.store.run_ids("etl")[0]
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        assert app.screen.current_task() == "extract"
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, ClearScreen) and app.screen.plan is not None)
        assert [p["task_id"] for p in app.screen.plan] == ["extract"]
        await pilot.press("d")
        await settle(pilot, lambda: app.screen.plan is not None and len(app.screen.plan) == 3)
        await pilot.press("y")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen))
    assert states(service, "etl", run_id) == {"extract": "none", "transform": "none", "load": "none"}
    assert service.run_doc("etl", run_id)["state"] == "queued"
    assert {t["try_number"] for t in service.task_states("etl", run_id)} == {1}


@run_async
async def test_mark_success_heals_what_the_failure_left(flaky):
    """`s` on a failed task and `y` mark it success; its upstream_failed
    downstream task goes back to no state so that it runs."""
    service = flaky
    run_id = service.store.run_ids("flaky")[0]
    assert states(service, "flaky", run_id) == {"fetch": "success", "parse": "failed", "store": "upstream_failed"}
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "flaky")
        await pilot.press("down")
        assert app.screen.current_task() == "parse"
        await pilot.press("s")
        assert isinstance(app.screen, MarkScreen)
        await pilot.press("y")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model.cell("parse", run_id)[0] == "success")
    assert states(service, "flaky", run_id) == {"fetch": "success", "parse": "success", "store": "none"}


@run_async
async def test_mark_failed_with_downstream(etl):
    """`f`, `d` and `y` mark a task and everything below it failed."""
    service = etl
    run_id = service.store.run_ids("etl")[0]
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        await pilot.press("down", "f", "d", "y")
        await settle(pilot, lambda: states(service, "etl", run_id)["load"] == "failed")
    assert states(service, "etl", run_id) == {"extract": "success", "transform": "failed", "load": "failed"}


@run_async
async def test_pause_and_unpause(etl):
    """`p` then `y` pauses the selected DAG (the table says so); again unpauses."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "p")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.title_text == "Pause etl?"
        await pilot.press("y")
        await settle(pilot, lambda: app.snapshot.paused("etl"))
        assert service.store.is_paused("etl")
        table = app.screen.query_one(DagTable)
        assert table.get_cell("etl", "paused").plain == "paused"
        await pilot.press("p")
        assert app.screen.title_text == "Unpause etl?"
        await pilot.press("y")
        await settle(pilot, lambda: not app.snapshot.paused("etl"))
    assert not service.store.is_paused("etl")


@run_async
async def test_a_run_made_elsewhere_shows_up_without_a_key(etl, flow):
    """A run finished by another process appears within about a second, with no key pressed."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        before = app.refreshes
        assert app.snapshot.run_counts["etl"] == 1
        result = await asyncio.to_thread(flow, "run", "etl")
        assert result.code == 0
        finished = time.monotonic()
        await settle(pilot, lambda: [r.state for r in app.snapshot.runs["etl"]] == ["success", "success"],
                     timeout=5)
        assert time.monotonic() - finished < 2.0
        assert app.refreshes > before
        table = app.screen.query_one(DagTable)
        assert table.get_cell("etl", "last run").plain.startswith("success ")


@run_async
async def test_unchanged_store_is_not_reread(etl):
    """While nothing commits, the poll timer starts no re-read of the runs."""
    app = FlowctlApp(etl, dag_reload_interval=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        first = app.refreshes
        await pilot.pause(1.5)
        assert app.refreshes == first


@run_async
async def test_q_quits_with_exit_code_0(etl):
    """`q` ends the app with exit code 0."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
    assert app.return_code == 0


@run_async
async def test_ctrl_c_says_in_plain_words_which_keys_quit(flow):
    """Ctrl+C does not quit; its notice names the keys that do, with no markup showing."""
    flow.write_dag("etl.py", ETL_DAG)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert (note.title, note.message) == ("Do you want to quit?", "Press q or ctrl+q to quit.")
        assert app.is_running


@run_async
async def test_help_lists_the_keys(etl):
    """`?` shows the keys of the current screen."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys["t"] == "Trigger" and keys["/"] == "Filter" and keys["q"] == "Quit"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


@run_async
async def test_command_palette_lists_the_actions(etl):
    """The command palette offers the controls by name."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Trigger the selected DAG", "Pause or unpause the selected DAG", "Backfill the selected DAG",
                "Start a scheduler", "Import errors"} <= titles
        await open_grid(pilot, "etl")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Grid view", "Graph view", "Gantt view", "Code view", "Clear the selected task instance",
                "Mark the selected task instance success"} <= titles


@run_async
async def test_filter_narrows_the_dags(flow):
    """`/` and a few letters keep the DAGs whose id, tag or file matches."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("flaky.py", FLAKY_DAG)
    service = make_service(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        assert table.row_count == 2
        await pilot.press("slash", "f", "l", "a")
        assert table.row_count == 1 and table.selected_dag == "flaky"
        await pilot.press("escape")
        assert table.row_count == 2


@run_async
async def test_a_filter_that_matches_nothing_says_so_and_esc_restores_the_tree(flow):
    """A filter no DAG matches says so instead of showing empty panes; Esc
    brings the tree back as it was, what was expanded still expanded and
    the cursor where it was."""
    from datetime import UTC, datetime

    from tui_support import put_run

    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("flaky.py", FLAKY_DAG)
    service = make_service(flow)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    put_run(service, "etl", day, "success", {"extract": {"state": "success", "start": day, "end": day}})
    app = FlowctlApp(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(DagTree)
        await pilot.press("down", "right")
        expanded = tree.expanded_keys()
        assert {"g:/", "d:/:etl"} <= expanded
        note = app.screen.query_one("#nomatch")
        assert not note.display
        await pilot.press("slash", *"zzz")
        await settle(pilot)
        assert not tree.root.children and app.screen.query_one(DagTable).row_count == 0
        assert note.display and "No DAG matches 'zzz'" in str(note.render())
        await pilot.press("escape")
        await settle(pilot)
        assert tree.expanded_keys() == expanded and not note.display
        assert app.screen.query_one(DagTable).row_count == 2
        assert tree.selected.key == "d:/:etl"


@run_async
async def test_import_errors_banner_opens_the_errors(flow):
    """A DAG file that fails to import raises a banner; `e` shows the error."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("broken.py", "import nonexistent_module_xyz  # a broken dag file\n")
    service = make_service(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = app.screen.query_one("#banner")
        assert banner.display and "1 DAG file failed to import (broken.py)" in str(banner.render())
        await pilot.press("e")
        assert isinstance(app.screen, ErrorsScreen)
        text = str(app.screen.query_one("#errortext").render())
        assert "nonexistent_module_xyz" in text and "broken.py" in text


@run_async
async def test_a_large_log_opens_at_its_tail(etl):
    """A log bigger than 200 KB opens at its end; the start is not loaded."""
    service = etl
    run_id = service.store.run_ids("etl")[0]
    path = service.log_path("etl", run_id, "load", None)
    with path.open("w") as f:
        for i in range(60_000):
            f.write(f"line {i:06d} of a long log\n")
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_task("etl", run_id, "load")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen) and len(app.screen.query_one(Log).lines) > 10)
        lines = [line for line in app.screen.query_one(Log).lines if line]
        assert lines[-1] == "line 059999 of a long log"
        assert "KB earlier" in lines[0]
        assert not any(line.startswith("line 000000") for line in lines)
        assert len(lines) < 10_000


@run_async
async def test_log_follows_a_growing_file(etl):
    """Lines appended to the latest try's log appear without a key press."""
    service = etl
    run_id = service.store.run_ids("etl")[0]
    path = service.log_path("etl", run_id, "extract", None)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_task("etl", run_id, "extract")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen.query_one(Log).lines)
        with path.open("a") as f:
            f.write("a line written later\n")
        await settle(pilot, lambda: last_line(app.screen.query_one(Log)) == "a line written later", timeout=5)


@run_async
async def test_views_switch_with_number_keys(etl):
    """1-4 switch between the grid, graph, gantt and code views."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        for key, view in (("2", "graph"), ("3", "gantt"), ("4", "code"), ("1", "grid")):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen.view == view
            assert app.screen.query_one("TabbedContent").active == view
        for key, char in (("3", "3"), ("1", "1"), ("down", None)):  # queued at once, as from a terminal
            app.post_message(events.Key(key, char))
        await settle(pilot)
        assert app.screen.current_task() == "transform"  # back on the grid, the arrow reached it
        await pilot.press("2")
        text = str(app.screen.query_one("#graphview").render())
        assert "[S] extract" in text and "▶[S] transform" in text


@run_async
async def test_backfill_starts_in_the_background(etl):
    """`b` with a date range starts `flowctl backfill` as a separate process;
    its runs land in the store."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "b")
        assert isinstance(app.screen, BackfillScreen)
        app.screen.query_one("#start", Input).value = "2026-01-01"
        app.screen.query_one("#end", Input).value = "2026-01-02"
        await pilot.pause()
        assert "2 data intervals" in str(app.screen.query_one("#intervals").render())
        await pilot.press("enter")
        await settle(pilot, lambda: bool(app.backfills))
        _, proc, log = app.backfills[0]
        code = await asyncio.to_thread(proc.wait, 50)
        assert code == 0, log.read_text()
    backfills = [r for r in service.store.run_ids("etl") if r.startswith("backfill__")]
    assert backfills == ["backfill__2026-01-01T00:00:00+00:00", "backfill__2026-01-02T00:00:00+00:00"]


@run_async
async def test_accepting_the_offer_starts_a_scheduler_that_runs_the_change(etl, flow):
    """After a clear with no scheduler running, `y` on the offer starts
    `flowctl scheduler --daemon`, which runs the cleared tasks again."""
    service = etl
    run_id = service.store.run_ids("etl")[0]
    app = FlowctlApp(service)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_grid(pilot, "etl")
            await pilot.press("c")
            await settle(pilot, lambda: isinstance(app.screen, ClearScreen) and app.screen.plan is not None)
            await pilot.press("y")
            await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await settle(pilot, lambda: bool(app.snapshot.scheduler.get("running")), timeout=30)
            await settle(pilot, lambda: app.snapshot.run(
                "etl", run_id) is not None and app.snapshot.run("etl", run_id).state == "success", timeout=30)
    finally:
        flow("scheduler", "stop")
    assert {t["try_number"] for t in service.task_states("etl", run_id)} == {1, 2}


@run_async
async def test_usable_at_80x24(etl):
    """At 80x24 the tree goes above the DAG table and the grid still shows."""
    app = FlowctlApp(etl)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#body").has_class("-narrow")
        grid = await open_grid(pilot, "etl")
        assert grid.size.height >= 5 and grid.model.runs


@run_async
async def test_trigger_refuses_conf_that_is_not_a_json_object(etl):
    """A conf that is not a JSON object is shown as an error and queues nothing."""
    service = etl
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        app.screen.query_one("#conf", Input).value = "[1, 2"
        await pilot.press("enter")
        assert isinstance(app.screen, TriggerScreen)
        assert "not valid JSON" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
    assert len(service.store.run_ids("etl")) == 1


@run_async
async def test_enter_on_a_run_in_the_tree_opens_that_run(etl, flow):
    """Enter on a run node opens the DAG with that run's column selected."""
    service = etl
    assert flow("run", "etl").code == 0
    older = service.store.run_ids("etl")[0]
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "right", "down", "down")
        assert app.screen.query_one(DagTree).selected.run_id == older
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None)
        assert app.screen.current_run() == older
        assert app.screen.query_one(GridTable).selection()[1].run_id == older


MAPPED_DAG = """
import pendulum
from flowctl import DAG, task

with DAG(dag_id="fan", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    @task
    def shout(word):
        print(f"word is {word}")

    shout.expand(word=["alpha", "beta", "gamma"])
"""


PARAMS_DAG = """
import pendulum
from flowctl import DAG, BashOperator, Param
with DAG("reports", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         params={"limit": Param(10, type="integer", minimum=1, maximum=100, description="rows to read"),
                 "region": Param("eu", enum=["eu", "us"], description="where the data lives")}):
    BashOperator(task_id="report", bash_command="echo {{ params.limit }}")
"""


def _fan_app(flow) -> tuple[FlowctlApp, str]:
    """MAPPED_DAG run once: the app on its home, and the run's id."""
    flow.write_dag("fan.py", MAPPED_DAG)
    assert flow("run", "fan").code == 0
    service = make_service(flow)
    return FlowctlApp(service), service.store.run_ids("fan")[0]


async def _unfolded_grid(pilot, app: FlowctlApp, run_id: str) -> tuple[DagScreen, GridTable]:
    """The fan DAG's grid, its mapped task unfolded (Space): a row per instance."""
    await settle(pilot)
    app.push_screen(DagScreen("fan", run_id))
    await settle(pilot, lambda: isinstance(app.screen, DagScreen) and app.screen.query_one(GridTable).model)
    screen = app.screen
    assert isinstance(screen, DagScreen)
    grid = screen.query_one(GridTable)
    grid.select("shout", run_id)
    await pilot.press("space")
    await settle(pilot, lambda: "shout[2]" in [r.key for r in grid.model.rows])
    return screen, grid


@run_async
async def test_a_mapped_task_shows_each_instance_and_its_log(flow):
    """A mapped task's screen shows instance 0 first, counts the instances'
    states, and `>` / `<` switch to another instance and its log."""
    app, run_id = _fan_app(flow)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.push_screen(TaskScreen("fan", run_id, "shout"))
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen)
                     and any("word is alpha" in line for line in app.screen.query_one(Log).lines))
        screen = app.screen
        assert screen.map_index == 0 and screen.where() == "fan.shout[0]"
        details = str(screen.query_one("#details").render())
        assert "instance 0 of 3: 3 success" in details
        await pilot.press("greater_than_sign", "greater_than_sign")
        await settle(pilot, lambda: any("word is gamma" in line for line in screen.query_one(Log).lines))
        assert screen.map_index == 2
        await pilot.press("greater_than_sign")  # the last stays the last
        await pilot.press("less_than_sign")
        await settle(pilot, lambda: any("word is beta" in line for line in screen.query_one(Log).lines))
        assert not any("word is gamma" in line for line in screen.query_one(Log).lines)


@run_async
async def test_space_on_a_mapped_task_gives_each_instance_its_grid_row(flow):
    """In the grid, Space on a mapped task adds a row per instance under it (its
    state in each run), Enter on one opens that instance, Space again folds them."""
    app, run_id = _fan_app(flow)
    async with app.run_test(size=(140, 40)) as pilot:
        screen, grid = await _unfolded_grid(pilot, app, run_id)
        rows = [r.key for r in grid.model.rows]
        assert rows[rows.index("shout") + 1:rows.index("shout") + 4] == ["shout[0]", "shout[1]", "shout[2]"]
        assert grid.model.cell("shout[1]", run_id) == ("success", 1)
        grid.select("shout[1]", run_id)
        await settle(pilot, lambda: "instance 1 of 3" in str(screen.query_one("#details").render())
                     and "succeeded on try 1" in str(screen.query_one("#details").render()))
        details = str(screen.query_one("#details").render())
        assert "c, s, f act on shout[1] alone" in details
        assert "mapped into" not in details  # the instance's own why, not the whole task's
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen)
                     and any("word is beta" in line for line in app.screen.query_one(Log).lines))
        assert app.screen.map_index == 1
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)
        grid.select("shout", run_id)
        await pilot.press("space")
        await settle(pilot, lambda: "shout[0]" not in [r.key for r in grid.model.rows])


@run_async
async def test_clear_and_mark_on_an_instance_row_act_on_that_instance_alone(flow):
    """On the grid row of one instance of a mapped task, `c` clears that instance and
    `f` marks it failed; the other instances keep their state."""
    app, run_id = _fan_app(flow)
    service = app.service
    async with app.run_test(size=(140, 40)) as pilot:
        screen, grid = await _unfolded_grid(pilot, app, run_id)
        grid.select("shout[1]", run_id)
        assert (screen.current_task(), screen.current_map_index()) == ("shout", 1)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, ClearScreen) and app.screen.plan is not None)
        assert "fan.shout[1]" in str(app.screen.query_one("#title").render())
        assert [(p["task_id"], p["map_index"]) for p in app.screen.plan] == [("shout", 1)]
        await pilot.press("y")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: app.screen is screen)
        grid.select("shout[2]", run_id)
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, MarkScreen))
        assert "fan.shout[2] failed" in str(app.screen.query_one("#title").render())
        await pilot.press("y")
        await settle(pilot, lambda: instance_states(service, "fan", run_id)[2] == "failed")
    assert instance_states(service, "fan", run_id) == {0: "success", 1: "none", 2: "failed"}


def instance_states(service, dag_id: str, run_id: str) -> dict[int, str]:
    return {t["map_index"]: t["state"] for t in service.task_states(dag_id, run_id) if t["map_index"] >= 0}


@run_async
async def test_assets_screen_lists_assets_and_opens_a_consumer(flow):
    """`a` on the main screen lists the assets (who updates each, what it schedules,
    its last update); Enter opens the DAG scheduled on the one under the cursor."""
    flow.write_dag("assets.py", """
        import pendulum
        from flowctl import DAG, Asset, BashOperator
        raw = Asset("s3://lake/raw.csv")
        with DAG("ingest", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            BashOperator(task_id="download", bash_command="true", outlets=[raw])
        with DAG("on_raw", schedule=[raw], start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            BashOperator(task_id="use", bash_command="true")
    """)
    assert flow("run", "ingest").code == 0
    service = make_service(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot, lambda: isinstance(app.screen, AssetsScreen) and bool(app.screen.rows))
        table = app.screen.query_one("#assettable", DataTable)
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[:3] == ["s3://lake/raw.csv", "ingest.download", "on_raw"] and cells[4] == "1"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen))
        assert app.screen.dag_id == "on_raw"


@run_async
async def test_trigger_shows_the_params_as_a_form_and_refuses_what_their_schema_refuses(flow):
    """The trigger dialog lists each Param with its default and description; a value
    its schema refuses is the error (nothing queued); a valid one is the run's conf."""
    flow.write_dag("reports.py", PARAMS_DAG)
    service = make_service(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        assert isinstance(app.screen, TriggerScreen)
        labels = [str(label.render()) for label in app.screen.query("Label")]
        assert "limit (integer, 1..100): rows to read" in labels
        assert "region (one of eu, us): where the data lives" in labels
        limit = app.screen.query_one("#param-0", Input)
        assert limit.value == "10" and app.screen.query_one("#param-1", Input).value == "eu"
        limit.value = "500"
        await pilot.press("enter")
        assert isinstance(app.screen, TriggerScreen)
        assert "param 'limit' = 500 is refused: 500 is greater than the maximum of 100 (rule: maximum)" in str(
            app.screen.query_one("#error").render())
        limit.value = "25"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: len(service.store.run_ids("reports")) == 1)
    [run] = service.list_runs("reports")
    assert run["conf"] == {"limit": 25}


@run_async
async def test_the_trigger_dialog_fits_an_80_by_24_terminal(flow):
    """In the smallest common terminal the dialog's fields scroll while its
    title and buttons stay in view, and a refused value's error is shown."""
    flow.write_dag("reports.py", PARAMS_DAG.replace(
        '"region"', '"a": Param(1), "b": Param(2), "c": Param(3), "region"'))
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        dialog = app.screen
        assert isinstance(dialog, TriggerScreen)
        await settle(pilot)
        for part in ("#title", "#ok", "#cancel"):
            assert on_screen(dialog.query_one(part)), part
        dialog.query_one("#param-0", Input).value = "500"
        await pilot.press("enter")
        await settle(pilot, lambda: "is refused" in str(dialog.query_one("#error").render()))
        await settle(pilot, lambda: on_screen(dialog.query_one("#error")))
        assert on_screen(dialog.query_one("#ok"))


AMS_DAG = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("ams", schedule="30 2 * * *", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")):
    BashOperator(task_id="a", bash_command="true")
"""


@run_async
async def test_a_time_the_zone_skips_or_repeats_is_said_in_the_dialogs(flow):
    """A logical date in the spring-forward gap: the trigger queues the run at the
    moved time and its notice says so; a backfill's end in the hour that happens
    twice: the preview says which one it used, as the CLI does."""
    flow.write_dag("ams.py", AMS_DAG)
    service = make_service(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        assert isinstance(app.screen, TriggerScreen)
        app.screen.query_one("#date", Input).value = "2026-03-29T02:30"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: any("does not exist in Europe/Amsterdam" in n.message
                                        for n in app._notifications))
        assert service.store.run_ids("ams") == ["manual__2026-03-29T01:30:00+00:00"]
        await pilot.press("b")
        assert isinstance(app.screen, BackfillScreen)
        app.screen.query_one("#start", Input).value = "2026-10-24"
        app.screen.query_one("#end", Input).value = "2026-10-25 02:30"
        await pilot.pause()
        shown = str(app.screen.query_one("#intervals").render())
        assert "note: 2026-10-25 02:30 happens twice in Europe/Amsterdam" in shown
        assert "2 data intervals" in shown
