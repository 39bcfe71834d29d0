"""Text from tasks, DAG files and users as the TUI draws it: no escape
sequence reaches the terminal, and ids are fitted in terminal cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tui_support import ETL_DAG, make_service, put_run, run_async, settle

from flowctl.tui.app import FlowctlApp
from flowctl.tui.screens.errors import ErrorsScreen
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.widgets.log import SearchLog

pytestmark = pytest.mark.timeout(60)

DAY = datetime(2026, 3, 1, tzinfo=UTC)

HOSTILE_LOG = (
    "before\n"
    "\x1b]0;TITLE\x07\x1b[2J\x1b[H\x1b[5;5HMOVED\n"
    "\x1b[31mred\x1b[0m plain\n"
    "bell\x07here\n"
    "one\rtwo\n"
    "windows\r\n"
    "after\n"
)


def is_clean(text: str) -> bool:
    """No control character but line ends and tabs, so no escape sequence."""
    return not any(ord(c) < 0x20 and c not in "\n\t" or 0x7F <= ord(c) < 0xA0 for c in text)


def etl_run(flow) -> tuple[object, str]:
    flow.write_dag("etl.py", ETL_DAG)
    service = make_service(flow)
    run_id = put_run(service, "etl", DAY, "success",
                     {t: {"state": "success", "start": DAY, "end": DAY + timedelta(minutes=1)}
                      for t in ("extract", "transform", "load")})
    return service, run_id


@pytest.mark.parametrize(("raw", "shown"), [
    pytest.param("\x1b]0;TITLE\x07x", "x", id="osc-title-bel"),
    pytest.param("\x1b]8;;http://a\x1b\\link\x1b]8;;\x1b\\", "link", id="osc-hyperlink-st"),
    pytest.param("\x1b[2J\x1b[H\x1b[5;5HMOVED", "MOVED", id="erase-and-cursor-moves"),
    pytest.param("\x1b[1;31mred\x1b[0m", "red", id="sgr-colour"),
    pytest.param("\x1b(Bx\x1bc", "x", id="charset-and-reset"),
    pytest.param("\x9b2Jx", "x", id="c1-csi"),
    pytest.param("bell\x07", "bell␇", id="bell-visible"),
    pytest.param("one\rtwo", "one␍two", id="lone-cr-visible"),
    pytest.param("a\r\nb\tc", "a\nb\tc", id="crlf-ends-a-line-tab-kept"),
    pytest.param("esc at end\x1b", "esc at end␛", id="lone-escape-visible"),
    pytest.param("\x1b]0;no end\nnext", "\nnext", id="unterminated-osc-stops-at-line-end"),
    pytest.param("naïve_步骤", "naïve_步骤", id="printable-unchanged"),
])
def test_clean_drops_escape_sequences_and_shows_controls(raw, shown):
    """Escape sequences go; other controls show as their pictures; line ends stay."""
    from flowctl.tui.text import clean

    assert clean(raw) == shown


@run_async
async def test_a_log_with_escape_sequences_keeps_them_from_the_terminal(flow):
    """A try that prints a title change, a screen wipe, cursor moves, colours,
    a bell and a carriage return: the log shows its text, one line per line of
    the file, with no escape sequence left to reach the terminal."""
    service, run_id = etl_run(flow)
    path = service.log_path("etl", run_id, "extract", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOSTILE_LOG, newline="")
    app = FlowctlApp(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_task("etl", run_id, "extract")
        await settle(pilot, lambda: isinstance(app.screen, TaskScreen)
                     and "after" in app.screen.query_one(SearchLog).lines)
        log = app.screen.query_one(SearchLog)
        lines = [line for line in log.lines if line]
        assert lines == ["before", "MOVED", "red plain", "bell␇here", "one␍two", "windows", "after"]
        drawn = "".join(log.render_line(y).text for y in range(log.size.height))
        assert "MOVED" in drawn and is_clean(drawn)


BROKEN = 'from flowctl import DAG\nraise RuntimeError("bad\\x1b]0;PWNED\\x07 value\\x1b[2J")\n'


@run_async
async def test_import_errors_and_notifications_are_drawn_without_escapes(flow):
    """An import error's message and traceback, its banner, and a
    notification's text lose their escape sequences before they are drawn."""
    flow.write_dag("etl.py", ETL_DAG)
    flow.write_dag("broken.py", BROKEN)
    app = FlowctlApp(make_service(flow))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = str(app.screen.query_one("#banner").render())
        assert "broken.py" in banner and is_clean(banner)
        await pilot.press("e")
        assert isinstance(app.screen, ErrorsScreen)
        text = str(app.screen.query_one("#errortext").render())
        assert "bad value" in text and is_clean(text)
        app.notify("could not \x1b[2Jread \x1b]0;x\x07it", title="\x1b[31mFailed")
        await pilot.pause()
        note = list(app._notifications)[-1]
        assert (note.message, note.title) == ("could not read it", "Failed")


# -- widths in terminal cells ------------------------------------------------------------------

WIDE_DAG = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("wide", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    BashOperator(task_id="naïve_步骤", bash_command="true")
    BashOperator(task_id="step_" + "步" * 20, bash_command="true")
"""


@pytest.mark.parametrize(("text", "width", "fitted"), [
    pytest.param("naïve_步骤", 10, "naïve_步骤", id="fits-in-its-ten-cells"),
    pytest.param("naïve_步骤", 9, "naïve_步…", id="cut-before-a-wide-character"),
    pytest.param("naïve_步骤", 8, "naïve_…", id="no-half-of-a-wide-character"),
    pytest.param("abc", 0, "", id="no-room"),
])
def test_fit_counts_terminal_cells_not_characters(text, width, fitted):
    """A wide character takes two cells: `fit` never cuts one in half."""
    from rich.cells import cell_len

    from flowctl.tui.text import fit, pad

    assert fit(text, width) == fitted
    assert cell_len(pad(text, width)) == width


def test_gantt_and_graph_place_wide_task_ids_by_their_cells():
    """A task id of wide characters takes its cells in the gantt (every bar
    starts in one column) and in the graph (its edges join where an id of
    the same width in ASCII would have them)."""
    from rich.cells import cell_len

    from flowctl.tui.charts import gantt_lines, graph_lines
    from flowctl.tui.views import RunInfo

    def line_text(line):
        return "".join(t for t, _ in line)

    start = DAY
    tis = tuple({"task_id": tid, "state": "success", "try_number": 1, "start_date": start.isoformat(),
                 "end_date": (start + timedelta(seconds=9)).isoformat(), "duration": 9.0,
                 "tries": [{"try_number": 1, "start_date": start.isoformat(),
                            "end_date": (start + timedelta(seconds=9)).isoformat()}]}
                for tid in ("naïve_步骤", "plain_abcd"))
    info = RunInfo("wide", "manual__x", {"state": "success"}, tis)
    rows = [line_text(line) for line in gantt_lines(info, start, "UTC", 80)[2:]]
    assert [cell_len(r) for r in rows] == [cell_len(rows[1])] * 2
    assert [cell_len(r[:r.index("█")]) for r in rows] == [cell_len(rows[1][:rows[1].index("█")])] * 2
    fan = {"步骤": (), "x": (), "b": ("步骤", "x")}
    wide = [line_text(line) for line in graph_lines(list(fan), fan, {})]
    ascii_ = [line.replace("步骤", "abcd") for line in wide]
    assert ascii_ == [line_text(line) for line in graph_lines(["abcd", "x", "b"], {
        "abcd": (), "x": (), "b": ("abcd", "x")}, {})]


@run_async
async def test_the_grid_shows_a_wide_task_id_whole(flow):
    """The grid's task column is as wide as its ids in cells: `naïve_步骤` is
    drawn whole, and an id longer than the column ends in an ellipsis."""
    from flowctl.tui.screens.dag import DagScreen
    from flowctl.tui.widgets.grid import GridTable

    flow.write_dag("wide.py", WIDE_DAG)
    service = make_service(flow)
    put_run(service, "wide", DAY, "success", {"naïve_步骤": {"state": "success", "start": DAY, "end": DAY}},
            run_type="manual")
    app = FlowctlApp(service)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_dag("wide")
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and bool(app.screen.query_one(GridTable).model.runs))
        grid = app.screen.query_one(GridTable)
        lines = [grid.render_line(y).text for y in range(grid.size.height)]
        assert any(line.startswith(" naïve_步骤 ") for line in lines), lines
        assert any(line.startswith(" step_" + "步" * 12 + "… ") for line in lines), [line[:40] for line in lines]
