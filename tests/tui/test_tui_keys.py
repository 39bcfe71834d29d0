"""Keys as people who live in vim, less, k9s or lazygit expect them: j/k,
g/G, h/l, Ctrl+D/Ctrl+U wherever a list has focus; `/`, n/N and f in a log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual import events
from textual.widgets import Input
from tui_support import ETL_DAG, FLAKY_DAG, make_service, put_run, run_async, settle

from flowctl.tui.app import FlowctlApp
from flowctl.tui.screens.dag import DagScreen
from flowctl.tui.screens.modals import HelpScreen
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.widgets.dag_table import DagTable
from flowctl.tui.widgets.dag_tree import DagTree
from flowctl.tui.widgets.grid import GridTable
from flowctl.tui.widgets.log import CURRENT_STYLE, MATCH_STYLE, SearchLog

pytestmark = pytest.mark.timeout(60)

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def seed(flow, days: int = 3):
    """etl with `days` successful runs, flaky with none; no real processes."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("flaky.py", FLAKY_DAG)
    service = make_service(flow)
    for d in range(days):
        when = DAY + timedelta(days=d)
        put_run(service, "etl", when, "success",
                {t: {"state": "success", "start": when, "end": when + timedelta(minutes=1)}
                 for t in ("extract", "transform", "load")})
    return service


async def open_grid(pilot, dag_id: str) -> GridTable:
    app = pilot.app
    app.open_dag(dag_id)
    await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                 and app.screen.query_one(GridTable).model is not None
                 and bool(app.screen.query_one(GridTable).model.runs))
    return app.screen.query_one(GridTable)


@run_async
async def test_j_k_g_G_move_in_the_tree_and_h_l_switch_panes(flow):
    """In the tree j/k move down and up, G to the last node and g to the first;
    l goes to the DAG table on the right, where j/k move too, and h comes back."""
    app = FlowctlApp(seed(flow))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(DagTree)
        table = app.screen.query_one(DagTable)
        assert tree.has_focus and tree.selected.kind == "group"
        await pilot.press("j")
        assert tree.selected.dag_id == "etl"
        await pilot.press("j")
        assert tree.selected.dag_id == "flaky"
        await pilot.press("k")
        assert tree.selected.dag_id == "etl"
        await pilot.press("G")
        assert tree.selected.dag_id == "flaky"
        await pilot.press("g")
        assert tree.selected.kind == "group"
        await pilot.press("l")
        assert table.has_focus and table.selected_dag == "etl"
        await pilot.press("j")
        assert table.selected_dag == "flaky"
        await pilot.press("k")
        assert table.selected_dag == "etl"
        await pilot.press("ctrl+d")
        assert table.selected_dag == "flaky"
        await pilot.press("ctrl+u")
        assert table.selected_dag == "etl"
        await pilot.press("h")
        assert tree.has_focus


@run_async
async def test_ctrl_d_and_ctrl_u_move_half_a_page(flow):
    """Ctrl+D and Ctrl+U move the tree's cursor by half its height."""
    for i in range(30):
        flow.write_dag(f"d{i:02d}.py", ETL_DAG.replace('dag_id="etl"', f'dag_id="d{i:02d}"'))
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(DagTree)
        half = tree.scrollable_content_region.height // 2
        await pilot.press("ctrl+d")
        assert tree.cursor_line == half
        await pilot.press("ctrl+d", "ctrl+u")
        assert tree.cursor_line == half
        await pilot.press("G")
        assert tree.cursor_line == tree.last_line == 30
        await pilot.press("ctrl+d")
        assert tree.cursor_line == 30


@run_async
async def test_grid_moves_with_j_k_between_tasks_and_h_l_between_runs(flow):
    """In the grid j/k go down and up the tasks, h/l to the older and newer
    run, g/G to the first and last row."""
    service = seed(flow, 3)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        screen = app.screen
        runs = service.store.run_ids("etl")
        assert (screen.current_task(), screen.current_run()) == ("extract", runs[-1])
        await pilot.press("j")
        assert screen.current_task() == "transform"
        await pilot.press("h")
        assert screen.current_run() == runs[-2]
        await pilot.press("h", "l")
        assert screen.current_run() == runs[-2]
        await pilot.press("G")
        assert screen.current_task() == "load"
        await pilot.press("k")
        assert screen.current_task() == "transform"
        await pilot.press("g")
        assert screen.current_task() is None  # the run row
        await pilot.press("enter")  # Enter on the run row: its gantt
        await settle(pilot)
        assert screen.view == "gantt"


@run_async
async def test_help_shows_the_vim_keys_and_the_grids_letters(flow):
    """`?` lists j/k, g/G, Ctrl+D/Ctrl+U and h/l, and the letters' legend,
    `w waiting` included; j/k scroll it."""
    app = FlowctlApp(seed(flow, 1))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_grid(pilot, "etl")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert {"j k  ↓ ↑", "g G", "Ctrl+D Ctrl+U", "h l  ← →"} <= set(keys)
        assert "half a page" in keys["Ctrl+D Ctrl+U"]
        assert keys["f, x"] == "Failed" and keys["Enter"].startswith("Open the log")
        legend = str(app.screen.query(".hint").first().render())
        assert "S success" in legend and "w waiting" in legend and "R running" in legend
        await pilot.press("j", "escape")
        assert isinstance(app.screen, DagScreen)


# -- the log --------------------------------------------------------------------------------


def write_log(service, lines: int, every: int = 25) -> tuple[str, object]:
    run_id = service.store.run_ids("etl")[-1]
    path = service.log_path("etl", run_id, "extract", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(
        f"line {i} ERROR in chunk {i}\n" if i % every == 0 else f"line {i} working on chunk {i}\n"
        for i in range(1, lines + 1)))
    return run_id, path


async def open_log(pilot, run_id: str) -> SearchLog:
    app = pilot.app
    app.open_task("etl", run_id, "extract")
    await settle(pilot, lambda: isinstance(app.screen, TaskScreen) and len(app.screen.query_one(SearchLog).lines) > 5)
    return app.screen.query_one(SearchLog)


def styles_of(log: SearchLog, line: int) -> list[str]:
    """The styles drawn on a log line (it must be in view)."""
    strip = log.render_line(line - int(log.scroll_y))
    return [str(seg.style) for seg in strip if seg.style is not None]


def trybar(app) -> str:
    return str(app.screen.query_one("#trybar").render())


@run_async
async def test_slash_searches_the_log_and_n_N_move_between_matches(flow):
    """`/` opens a search; Enter highlights every match (smartcase: `error`
    finds `ERROR`) and goes to the first one in view or after it; n and N go
    to the next and previous match, wrapping; Esc clears the search."""
    service = seed(flow, 1)
    run_id, _ = write_log(service, 200, every=10)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        log = await open_log(pilot, run_id)
        await pilot.press("g")  # from the top
        await pilot.press("slash")
        box = app.screen.query_one("#search", Input)
        assert box.display and box.has_focus
        await pilot.press(*"error", "enter")
        assert not box.display and log.has_focus
        assert [y for y, _ in log.matches] == list(range(9, 200, 10))  # 0-based lines
        assert log.current == 0 and "match 1 of 20" in trybar(app)
        assert any("#ff5f00" in s for s in styles_of(log, 9))  # the current match
        assert any("#ffd75f" in s for s in styles_of(log, 19))  # another match
        assert not any("#ffd75f" in s or "#ff5f00" in s for s in styles_of(log, 14))
        await pilot.press("n")
        assert log.current == 1
        assert any("#ff5f00" in s for s in styles_of(log, 19)) and any("#ffd75f" in s for s in styles_of(log, 9))
        await pilot.press("n", "n", "n")
        assert log.scroll_y <= 49 < log.scroll_y + log.size.height  # the view follows the match
        await pilot.press("N", "N", "N", "N", "N")
        assert log.current == 19 and "match 20 of 20" in trybar(app)  # wrapped to the last
        assert log.scroll_y <= 199 < log.scroll_y + log.size.height
        await pilot.press("n")
        assert log.current == 0
        await pilot.press("slash", "backspace", "backspace", "backspace", "backspace", "backspace", *"ERRor")
        assert log.matches == []  # a capital letter makes it case-sensitive
        await pilot.press("enter")
        assert "no match" in trybar(app)
        await pilot.press("escape")
        assert log.pattern is None and isinstance(app.screen, TaskScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, DagScreen) or app.screen.__class__.__name__ == "MainScreen"
    assert (MATCH_STYLE, CURRENT_STYLE) == ("#000000 on #ffd75f", "bold underline #000000 on #ff5f00")


@run_async
async def test_f_toggles_following_and_moving_up_stops_it(flow):
    """While following, lines the try writes keep the end in view; `f` stops
    (new lines arrive below, the view stays) and starts it again; moving up
    with k stops it too, as in `less +F`."""
    service = seed(flow, 1)
    run_id, path = write_log(service, 100)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        log = await open_log(pilot, run_id)
        screen = app.screen
        await settle(pilot)
        assert screen.follow and log.is_vertical_scroll_end, (log.scroll_y, log.max_scroll_y, log.virtual_size, log.size, log.lines[-3:])
        assert "following (f stops)" in trybar(app)
        with path.open("a") as f:
            f.write("".join(f"more {i}\n" for i in range(20)))
        await settle(pilot, lambda: log.lines[-2] == "more 19")
        assert log.is_vertical_scroll_end
        await pilot.press("f")
        assert not screen.follow and "not following (f follows)" in trybar(app)
        at = log.scroll_y
        with path.open("a") as f:
            f.write("".join(f"later {i}\n" for i in range(20)))
        await settle(pilot, lambda: log.lines[-2] == "later 19")
        assert log.scroll_y == at and not log.is_vertical_scroll_end
        await pilot.press("f")
        await settle(pilot)
        assert screen.follow and log.is_vertical_scroll_end
        await pilot.press("k")
        assert not screen.follow and "not following" in trybar(app)
        await pilot.press("G")
        assert log.is_vertical_scroll_end and not screen.follow


@run_async
async def test_keys_typed_right_after_slash_reach_the_search(flow):
    """Keys that arrive in one burst with `/` (a fast typist, a paste) land in
    the search box, not on the screen's own keys (R would reload the DAGs)."""
    service = seed(flow, 1)
    run_id, _ = write_log(service, 50, every=10)
    app = FlowctlApp(service)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        log = await open_log(pilot, run_id)
        for key, char in (("slash", "/"), *((c, c) for c in "ERROR"), ("enter", "\r")):
            app.post_message(events.Key(key, char))
        await settle(pilot)
        assert log.query_text == "ERROR" and len(log.matches) == 5 and log.current >= 0
        await pilot.press("escape", "escape", "escape")  # clear the search, back to the grid, to the list
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        for key in ("l", "j"):
            app.post_message(events.Key(key, key))
        await settle(pilot)
        assert table.has_focus and table.selected_dag == "flaky"
