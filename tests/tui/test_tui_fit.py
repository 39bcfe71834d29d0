"""What a person sees at 80x24 and wider: every column of the DAG table, the
trigger form from its top, the grid's cursor after a jump, one gantt line
per task, the log's status line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tui_support import ETL_DAG, make_service, on_screen, run_async, settle

from flowctl.tui.app import FlowctlApp
from flowctl.tui.widgets.dag_table import DagTable

pytestmark = pytest.mark.timeout(60)

SAMPLE_DAGS = Path(__file__).resolve().parents[2] / "sample_dags"
LONG_ID = "long_" + "x" * 195


def drawn(widget, y: int) -> str:
    """Line `y` of a widget as drawn (scrolled where it is scrolled)."""
    return widget.render_line(y).text


def with_samples(flow) -> None:
    for path in SAMPLE_DAGS.glob("*.py"):
        shutil.copy(path, flow.dags / path.name)


@run_async
async def test_the_dag_table_shows_every_column_at_80x24(flow):
    """On a fresh home with the sample DAGs, an 80x24 terminal shows the DAG
    table's every column, the next run whole, with nothing to scroll sideways."""
    with_samples(flow)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        header = drawn(table, 0)
        for column in ("DAG", "schedule", "last run", "next run", "tasks"):
            assert column in header, header
        assert table.max_scroll_x == 0
        rows = [drawn(table, y) for y in range(1, table.row_count + 1)]
        hello = next(line for line in rows if line.lstrip().startswith("hello"))
        assert re.search(r"never\s+\d\d-\d\d \d\d:\d\d\s+-", hello), hello


@run_async
async def test_a_long_dag_id_is_cut_and_leaves_the_other_columns_room(flow):
    """A 200-character DAG id is cut with an ellipsis at 40 cells: at 200x50
    every wide column shows beside it."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("long.py", ETL_DAG.replace('dag_id="etl"', f'dag_id="{LONG_ID}"'))
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        header = drawn(table, 0)
        for column in ("DAG", "schedule", "paused", "last run", "next run", "running", "failed"):
            assert column in header, header
        assert table.max_scroll_x == 0
        cell = table.get_cell(LONG_ID, "DAG").plain
        assert cell.endswith("…") and len(cell) == 40 and LONG_ID.startswith(cell[:-1])


@run_async
async def test_the_dag_column_stays_when_the_table_scrolls_sideways(flow):
    """Too narrow even for the compact columns, the table scrolls sideways
    and the DAG column stays at its left."""
    flow.write_dag("etl.py", ETL_DAG)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(40, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DagTable)
        assert table.max_scroll_x > 0
        table.scroll_to(x=table.max_scroll_x, animate=False, immediate=True)
        await pilot.pause()
        assert drawn(table, 1).lstrip().startswith("etl"), drawn(table, 1)


FORM_DAG = """
import pendulum
from flowctl import DAG, BashOperator, Param
with DAG("reports", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         params={"limit": Param(100, type="integer", minimum=1, maximum=1000, description="rows to read"),
                 "region": Param("eu", enum=["eu", "us"], description="where the data lives"),
                 "a": Param(1), "b": Param(2), "c": Param(3)}):
    BashOperator(task_id="report", bash_command="echo {{ params.limit }}")
"""


@run_async
async def test_the_trigger_form_opens_at_its_top_at_80x24(flow):
    """The trigger form opens scrolled to its top: the hint and the first
    field's label are in view above the field that has the keys."""
    from textual.widgets import Input, Label

    from flowctl.tui.screens.modals import TriggerScreen

    flow.write_dag("reports.py", FORM_DAG)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "t")
        dialog = app.screen
        assert isinstance(dialog, TriggerScreen)
        await settle(pilot)
        field = dialog.query_one("#param-0", Input)
        label = next(w for w in dialog.query(Label) if "limit (integer, 1..1000)" in str(w.render()))
        hint = dialog.query_one(".hint")
        assert field.has_focus
        for widget in (hint, label, field):
            assert on_screen(widget), widget
        assert "Queues a run of 1 task (report)" in str(hint.render())


BIG_DAG = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("big", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    for i in range(300):
        BashOperator(task_id=f"task_{i:03d}", bash_command="true")
"""


def big_run(flow) -> object:
    """The 300-task DAG with one successful run."""
    from datetime import UTC, datetime, timedelta

    from tui_support import put_run

    flow.write_dag("big.py", BIG_DAG)
    service = make_service(flow)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    put_run(service, "big", day, "success",
            {f"task_{i:03d}": {"state": "success", "start": day, "end": day + timedelta(seconds=i + 1)}
             for i in range(300)}, run_type="manual")
    return service


async def open_big_grid(pilot):
    from flowctl.tui.screens.dag import DagScreen
    from flowctl.tui.widgets.grid import GridTable

    app = pilot.app
    await settle(pilot)
    app.open_dag("big")
    await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                 and app.screen.query_one(GridTable).model is not None
                 and bool(app.screen.query_one(GridTable).model.runs))
    return app.screen.query_one(GridTable)


def cursor_drawn(grid) -> bool:
    """Whether the cursor's row is among the grid's drawn lines."""
    label = grid.model.rows[grid.cursor_row].label
    return any(drawn(grid, y).startswith(f" {label} ") for y in range(grid.size.height))


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
@run_async
async def test_the_grid_cursor_stays_in_view_after_a_jump(flow, size):
    """G, g and the page keys in a grid of 300 tasks leave the cursor's row in
    view, though the details under the grid change height with it."""
    app = FlowctlApp(big_run(flow))
    async with app.run_test(size=size) as pilot:
        grid = await open_big_grid(pilot)
        for keys in (("g", "G"), ("g",), ("pageup",), ("g", "pagedown"), ("end",), ("G", "pageup")):
            await pilot.press(*keys)
            await settle(pilot)
            assert cursor_drawn(grid), (keys, grid.cursor_row)
        await pilot.press("g", "G")
        await settle(pilot)
        assert grid.cursor_row == grid.row_count - 1 and cursor_drawn(grid)


def failed_run_info(n: int = 6):
    """A failed run: tasks that ran (one with a 30-character id), then tasks
    that never did (`upstream_failed`, no duration to show)."""
    from datetime import UTC, datetime, timedelta

    from flowctl.tui.views import RunInfo

    start = datetime(2026, 3, 1, tzinfo=UTC)
    tis = []
    for i in range(n):
        tid = f"task_{i:03d}" if i else "a_task_with_a_thirty_char_id_x"
        s, e = start + timedelta(seconds=i), start + timedelta(seconds=i + 1)
        tis.append({"task_id": tid, "state": "success", "try_number": 1, "start_date": s.isoformat(),
                    "end_date": e.isoformat(), "duration": 1.0,
                    "tries": [{"try_number": 1, "start_date": s.isoformat(), "end_date": e.isoformat()}]})
    tis += [{"task_id": f"after_{i}", "state": "upstream_failed", "try_number": 0} for i in range(3)]
    return RunInfo("big", "manual__x", {"state": "failed"}, tuple(tis))


@pytest.mark.parametrize("width", [40, 53, 76, 80, 196])
def test_gantt_lines_fit_their_width(width):
    """Every gantt line fits the width it is drawn for, a task that never ran
    (its state in place of a duration) and a long id included."""
    from datetime import UTC, datetime

    from rich.cells import cell_len

    from flowctl.tui.charts import gantt_lines

    info = failed_run_info()
    lines = gantt_lines(info, datetime(2026, 3, 1, 1, tzinfo=UTC), "UTC", width)
    assert len(lines) == 2 + len(info.tis)
    assert max(cell_len("".join(t for t, _ in line)) for line in lines) <= width


@run_async
async def test_the_gantt_draws_one_line_per_task_at_80_columns(flow):
    """At 80x24 the gantt of a failed 300-task run keeps one line per task, scrolled to its end too."""
    from datetime import UTC, datetime, timedelta

    from tui_support import put_run

    from flowctl.tui.widgets.charts import GanttView

    flow.write_dag("big.py", BIG_DAG)
    service = make_service(flow)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    tis = {f"task_{i:03d}": {"state": "success", "start": day, "end": day + timedelta(seconds=i + 1)}
           for i in range(150)}
    tis.update({f"task_{i:03d}": {"state": "upstream_failed", "try": 0} for i in range(150, 300)})
    put_run(service, "big", day, "failed", tis, run_type="manual")
    app = FlowctlApp(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_big_grid(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.screen.query_one(GanttView)
        assert view.size.height == 2 + 300
        await pilot.press("G")
        await settle(pilot)
        assert view.size.height == 2 + 300
        canvas = view.parent
        assert canvas.max_scroll_x == 0


def test_the_log_bar_keeps_the_match_count_in_a_narrow_terminal():
    """In 78 cells the log's status line gives up its hints, then part of a long
    query, never the match count; wide, it shows everything."""
    from rich.cells import cell_len

    from flowctl.tui.views import log_bar

    def text(line):
        return "".join(t for t, _ in line)

    wide = text(log_bar(1, 1, False, 0, ("line 29", 1, 0), width=200))
    assert wide == ("log try 1 of 1  [ ] switch  not following (f follows)  /line 29  match 1 of 1"
                    " (n N; Esc clears)")
    narrow = text(log_bar(1, 1, False, 0, ("line 29", 1, 0), width=78))
    assert narrow.endswith("/line 29  match 1 of 1") and cell_len(narrow) <= 78
    long = text(log_bar(2, 3, True, 300, ("x" * 100, 7, -1), width=78))
    assert long.endswith("…  7 matches") and cell_len(long) == 78 and long.startswith("log try 2 of 3  following")


def log_world(flow) -> tuple[object, str]:
    """etl with one run whose extract log is too big to show whole (its tail
    has a wide first line, then `line 29`)."""
    from datetime import UTC, datetime, timedelta

    from tui_support import put_run

    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    run_id = put_run(service, "etl", day, "success",
                     {t: {"state": "success", "start": day, "end": day + timedelta(minutes=1)}
                      for t in ("extract", "transform", "load")})
    path = service.log_path("etl", run_id, "extract", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("earlier\n" * 40_000 + "wide " + "=" * 200 + "\n"
                    + "".join(f"line {i} of the log\n" for i in range(1, 60)))
    return service, run_id


@run_async
async def test_a_search_shows_its_count_and_scrolls_its_match_into_view_at_80x24(flow):
    """At 80x24 the log's status line shows "match 1 of 1" after `/line 29`; after
    scrolling sideways with `l`, a match in column 0 is scrolled back into view."""
    from flowctl.tui.screens.task import TaskScreen
    from flowctl.tui.widgets.log import SearchLog

    service, run_id = log_world(flow)
    app = FlowctlApp(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_task("etl", run_id, "extract")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen)
                     and "line 59 of the log" in app.screen.query_one(SearchLog).lines)
        log = app.screen.query_one(SearchLog)
        bar = app.screen.query_one("#trybar")
        await pilot.press("slash", *"line 29", "enter")
        await settle(pilot)
        assert "match 1 of 1" in drawn(bar, 0), drawn(bar, 0)
        await pilot.press("g", *"llllllll")
        assert log.scroll_x >= 30
        await pilot.press("slash", "ctrl+u", *"line 3 ", "enter")
        await settle(pilot)
        assert log.scroll_x == 0 and any(drawn(log, y).startswith("line 3 of the log") for y in range(log.size.height))
        assert "match 1 of 1" in drawn(bar, 0)
