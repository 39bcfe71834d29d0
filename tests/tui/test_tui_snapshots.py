"""Screenshots of the TUI on fixed state, clock and zone (pytest-textual-snapshot).

The state is written through the Store API with fixed times (no real runs),
the clock is a FakeClock and the zone UTC, so the pictures only change when
the UI does. `pytest --snapshot-update tests/tui` accepts a new picture.
"""

from __future__ import annotations

import pytest
from tui_support import FIXED_NOW, seed_fixed, settle

from flowctl.clock import FakeClock
from flowctl.tui.app import FlowctlApp
from flowctl.tui.screens.dag import DagScreen
from flowctl.tui.screens.modals import ClearScreen
from flowctl.tui.screens.task import TaskScreen
from flowctl.tui.widgets.grid import GridTable
from flowctl.tui.widgets.log import SearchLog

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def world(flow):
    return seed_fixed(flow)


def app_for(service) -> FlowctlApp:
    return FlowctlApp(service, clock=FakeClock(FIXED_NOW), dag_reload_interval=3600)


def open_dag(dag_id: str, run_day: str | None = None, keys: tuple[str, ...] = ()):
    async def before(pilot) -> None:
        app = pilot.app
        await settle(pilot)
        run_id = None
        if run_day:
            run_id = next(r.run_id for r in app.snapshot.runs[dag_id] if run_day in r.run_id)
        app.open_dag(dag_id, run_id)
        await settle(pilot, lambda: isinstance(app.screen, DagScreen)
                     and app.screen.query_one(GridTable).model is not None
                     and bool(app.screen.query_one(GridTable).model.runs))
        if keys:
            await pilot.press(*keys)
        await settle(pilot)

    return before


def test_main_screen(snap_compare, world):
    """The main screen: header (no scheduler, two runs waiting), import-error
    banner, the tree with etl's newest run expanded to its task instances, and
    the DAG table with the last run in words."""

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("down", "right", "down", "right")
        await settle(pilot)

    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=before)


def test_main_screen_80x24(snap_compare, world):
    """At 80x24 the tree sits above the DAG table."""

    async def before(pilot) -> None:
        await settle(pilot)

    assert snap_compare(app_for(world), terminal_size=(80, 24), run_before=before)


def test_grid(snap_compare, world):
    """The grid of etl: seven runs as columns, the running transform
    selected, its details with explain's reason and note."""
    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=open_dag("etl", keys=("down",)))


def test_grid_with_task_groups(snap_compare, world):
    """A DAG with task groups: group rows aggregate their members."""
    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=open_dag("reports"))


def test_graph(snap_compare, world):
    """The graph of reports, by dependency level, coloured by the selected run."""
    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=open_dag("reports", keys=("2",)))


def test_gantt(snap_compare, world):
    """The gantt of etl's 02-26 run: transform's first try ▒, then its second."""
    assert snap_compare(app_for(world), terminal_size=(120, 40),
                        run_before=open_dag("etl", run_day="2026-02-26", keys=("3",)))


def test_grid_80x24(snap_compare, world):
    """The grid at 80x24: the run's header in words, the grid, the details."""
    assert snap_compare(app_for(world), terminal_size=(80, 24), run_before=open_dag("etl", keys=("j",)))


def test_main_screen_160x45(snap_compare, world):
    """A wide terminal: the tree beside the table; last run in words."""

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("l", "j")
        await settle(pilot)

    assert snap_compare(app_for(world), terminal_size=(160, 45), run_before=before)


def test_clear_dialog(snap_compare, world):
    """The clear dialog: each toggle's key and state in words, downstream on."""

    async def before(pilot) -> None:
        await open_dag("flaky", keys=("j",))(pilot)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ClearScreen) and pilot.app.screen.plan is not None)
        await pilot.press("d")
        await settle(pilot, lambda: pilot.app.screen.plan is not None and len(pilot.app.screen.plan) == 2)

    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=before)


def test_help(snap_compare, world):
    """`?` on the grid: its keys, the vim keys, and the letters' legend."""
    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=open_dag("etl", keys=("question_mark",)))


def test_log_search(snap_compare, world):
    """A task's log searched for `error`: matches lit, the current one brighter."""
    run_id = world.store.run_ids("flaky")[-1]
    path = world.log_path("flaky", run_id, "parse", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"parsing record {i}\n" if i % 7 else f"record {i}: error: bad field (Error {i})\n"
                            for i in range(1, 60)))

    async def before(pilot) -> None:
        await settle(pilot)
        pilot.app.open_task("flaky", run_id, "parse")
        await settle(pilot, lambda: isinstance(pilot.app.screen, TaskScreen)
                     and len(pilot.app.screen.query_one(SearchLog).lines) > 10)
        await pilot.press("g", "slash", *"error", "enter", "n")
        await settle(pilot)

    assert snap_compare(app_for(world), terminal_size=(120, 40), run_before=before)
