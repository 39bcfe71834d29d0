"""The TUI's view models (`flowctl.tui.views`): store state in, rows and lines out; no Textual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from flowctl.states import STATE_COLOURS, TaskState
from flowctl.tui.charts import gantt_lines, graph_lines, levels_of
from flowctl.tui.views import (
    DISPLAY_LETTERS,
    RUN_ROW,
    STATE_LETTERS,
    RunInfo,
    Snapshot,
    aggregate_state,
    asset_lines,
    carriers,
    dag_cells,
    dag_rows,
    dag_zone,
    downstream_of,
    error_banner,
    fmt_ago,
    fmt_time,
    grid_model,
    legend,
    mark_targets,
    matches,
    newest_run_ids,
    plan_lines,
    run_detail_line,
    state_cell,
    status_line,
    ti_detail_lines,
    tree_nodes,
    upstream_first,
)

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def task(upstream=(), group=None, operator="BashOperator"):
    return SimpleNamespace(upstream=tuple(upstream), group_id=group, operator=operator)


def spec(dag_id="etl", tasks=None, tags=("demo",), fileloc="/dags/etl.py", schedule="@daily"):
    tasks = tasks or {"extract": task(), "transform": task(["extract"]), "load": task(["transform"])}
    return SimpleNamespace(dag_id=dag_id, tasks=tasks, order=tuple(tasks), tags=tuple(tags), fileloc=fileloc,
                           schedule_display=schedule, timezone="UTC", description=None)


def ti(task_id, state="success", try_number=1, start=None, end=None, tries=(), **extra):
    doc = {"task_id": task_id, "state": state, "try_number": try_number,
           "start_date": start.isoformat() if start else None, "end_date": end.isoformat() if end else None,
           "duration": (end - start).total_seconds() if start and end else None, "tries": list(tries),
           "operator": "BashOperator", "max_tries": 2}
    doc.update(extra)
    return doc


def run(dag_id, day, state="success", tis=(), run_type="scheduled", version=None, carrier="scheduler pid 7"):
    """A run as `data.py` reads it; an active one carried out by `carrier` (None: nobody)."""
    logical = datetime(2026, 3, day, tzinfo=UTC).isoformat()
    run_id = f"{run_type}__{logical}"
    doc = {"dag_id": dag_id, "run_id": run_id, "state": state, "logical_date": logical, "run_type": run_type,
           "conf": {}}
    if version is None:
        version = {"order": [t["task_id"] for t in tis],
                   "tasks": {"extract": {"upstream": []}, "transform": {"upstream": ["extract"]},
                             "load": {"upstream": ["transform"]}}}
    return RunInfo(dag_id, run_id, doc, tuple(tis), version, carrier=carrier if state in ("queued", "running") else None)


def three(states=("success", "success", "success")):
    return [ti("extract", states[0]), ti("transform", states[1]), ti("load", states[2])]


def snapshot(**kw):
    base = dict(seq=1, now=NOW, tz="UTC", dags={"etl": spec()}, dags_folder="/dags")
    base.update(kw)
    return Snapshot(**base)


# -- states ----------------------------------------------------------------------------


def test_every_state_has_its_own_letter_and_a_colour():
    """Letters as well as colours: each state reads without colour, and no two
    share a letter, the shown-only `waiting` included; the legend lists them all."""
    assert set(STATE_LETTERS) == {s.value for s in TaskState}
    letters = {**STATE_LETTERS, **DISPLAY_LETTERS}
    assert len(set(letters.values())) == len(letters)
    assert set(STATE_LETTERS) <= set(STATE_COLOURS)
    assert state_cell("failed") == ("F", "bold red")
    assert state_cell("waiting") == ("w", "bold slate_blue1")
    text = "".join(t for t, _ in legend())
    assert all(f"{letter} {state}" in text for state, letter in letters.items())


@pytest.mark.parametrize(("states", "expected"), [
    pytest.param([], "none", id="empty"),
    pytest.param(["success", "skipped"], "success", id="done"),
    pytest.param(["skipped", "skipped"], "skipped", id="all-skipped"),
    pytest.param(["success", "running", "none"], "running", id="running-wins-over-waiting"),
    pytest.param(["running", "failed"], "failed", id="failed-wins"),
    pytest.param(["success", "up_for_retry"], "up_for_retry", id="retry"),
])
def test_a_group_shows_its_most_urgent_state(states, expected):
    """A task group's cell shows the most urgent of its members' states."""
    assert aggregate_state(states) == expected


# -- time -------------------------------------------------------------------------------


def test_times_show_in_the_users_zone():
    """Times are stored in UTC and shown in the user's zone, across DST."""
    assert fmt_time("2026-03-29T00:30:00+00:00", "Europe/Amsterdam") == "2026-03-29 01:30:00"
    assert fmt_time("2026-03-29T01:30:00+00:00", "Europe/Amsterdam") == "2026-03-29 03:30:00"
    assert fmt_time(None, "UTC") == "-"


@pytest.mark.parametrize(("ago", "text"), [
    (timedelta(seconds=3), "3s ago"), (timedelta(minutes=5), "5m ago"),
    (timedelta(hours=5), "5h ago"), (timedelta(days=3), "3d ago"), (timedelta(seconds=-5), "just now"),
])
def test_ago(ago, text):
    """Heartbeats read as a short age."""
    assert fmt_ago((NOW - ago).isoformat(), NOW) == text


def test_newest_run_ids_sort_by_logical_date_without_reading_files():
    """Run ids end in a UTC ISO date: newest first whatever the run type."""
    ids = ["scheduled__2026-03-01T00:00:00+00:00", "manual__2026-03-01T06:00:00.123456+00:00",
           "backfill__2026-02-01T00:00:00+00:00", "manual__2026-03-01T06:00:00+00:00"]
    assert newest_run_ids(ids, 3) == ["manual__2026-03-01T06:00:00.123456+00:00",
                                      "manual__2026-03-01T06:00:00+00:00",
                                      "scheduled__2026-03-01T00:00:00+00:00"]


# -- the DAG table ---------------------------------------------------------------------------


def test_dag_row_has_the_last_run_and_counts():
    """The table's row has the newest run (in words); running counts active
    task instances, failed counts failed ones in recent runs."""
    runs = tuple(run("etl", d, "success", three()) for d in range(8, 1, -1))
    active = run("etl", 9, "running", three(("success", "running", "none")))
    failed = run("etl", 1, "failed", three(("success", "failed", "upstream_failed")))
    snap = snapshot(runs={"etl": (active, *runs, failed)}, flags={"etl": {"paused": True}},
                    next_runs={"etl": "2026-03-02T00:00:00+00:00"})
    (row,) = dag_rows(snap)
    assert row.last_run == ("running", "03-09 00:00")
    assert (row.paused, row.running, row.failed, row.next_run) == (True, 1, 1, "03-02 00:00")


def test_logical_dates_are_in_the_dags_zone_as_the_cli_shows_them():
    """A DAG in another zone than yours: its last and next run, its runs in the
    tree, the grid's columns and a run's header are in its zone (as `runs list`
    prints them and as you type them back), and its schedule says the zone."""
    ams = spec()
    ams.timezone = "Europe/Amsterdam"
    r = run("etl", 8, "success", three())  # logical 2026-03-08 00:00 UTC = 01:00 in Amsterdam
    snap = snapshot(dags={"etl": ams}, runs={"etl": (r,)}, next_runs={"etl": "2026-03-08T23:00:00+00:00"})
    (row,) = dag_rows(snap)
    assert row.last_run == ("success", "03-08 01:00") and row.next_run == "03-09 00:00"
    assert row.schedule == "@daily (Europe/Amsterdam)"
    (group,) = tree_nodes(snap, expanded=None)
    assert "".join(t for t, _ in group.children[0].children[0].label).startswith("S 03-08 01:00")
    model = grid_model(ams, [r], dag_zone(snap, "etl"))
    assert (model.runs[0].day, model.runs[0].time) == ("03-08", "01:00")
    header = "".join(t for t, _ in run_detail_line(r, dag_zone(snap, "etl")))
    assert "logical 2026-03-08 01:00" in header
    (utc_row,) = dag_rows(snapshot(runs={"etl": (r,)}))
    assert utc_row.last_run == ("success", "03-08 00:00") and utc_row.schedule == "@daily"


def test_last_run_cell_says_the_state_in_words_and_when():
    """The DAG table's "last run" cell reads `success 03-08 00:00`, not only a coloured letter."""
    snap = snapshot(runs={"etl": (run("etl", 8, "success", three()), run("etl", 7, "failed", three()))})
    (row,) = dag_rows(snap)
    cells = dict(zip(("DAG", "schedule", "paused", "last run"), dag_cells(row), strict=False))
    assert "".join(t for t, _ in cells["last run"]) == "success 03-08 00:00"
    assert cells["last run"][0] == ("success", "green")
    (never,) = dag_rows(snapshot())
    assert "".join(t for t, _ in dag_cells(never)[3]) == "never"


def test_a_narrow_dag_table_has_compact_columns_and_ids_are_cut_in_cells():
    """Where the wide columns leave the ids too little room, the table goes
    compact: no zone after the schedule, `paused` in place of the next run,
    running and failed as `1R 1F`; an id never takes more than 40 cells."""
    from flowctl.tui.views import COMPACT_COLUMNS, DAG_COLUMNS, dag_layout

    ams = spec()
    ams.timezone = "Europe/Amsterdam"
    active = run("etl", 9, "running", three(("success", "running", "none")))
    failed = run("etl", 8, "failed", three(("success", "failed", "upstream_failed")))
    snap = snapshot(dags={"etl": ams}, runs={"etl": (active, failed)}, flags={"etl": {"paused": True}},
                    next_runs={"etl": "2026-03-10T00:00:00+00:00"})
    (row,) = dag_rows(snap)
    assert dag_layout([row], 200) == (False, 3)
    compact, width = dag_layout([row], 76)
    assert compact and width == 3
    cells = ["".join(t for t, _ in c) for c in dag_cells(row, compact=True)]
    assert dict(zip(COMPACT_COLUMNS, cells, strict=True)) == {
        "DAG": "etl", "schedule": "@daily", "last run": "running 03-09 01:00", "next run": "paused",
        "tasks": "1R 1F"}
    assert len(dag_cells(row)) == len(DAG_COLUMNS)
    long = dag_rows(snapshot(dags={"x" * 200: spec("x" * 200)}))
    assert dag_layout(long, 200) == (False, 40)
    assert "".join(t for t, _ in dag_cells(long[0], False, 40)[0]) == "x" * 39 + "…"


def test_a_run_nobody_carries_out_shows_as_waiting_everywhere():
    """A running run with no live owner and no scheduler reads `waiting`: in
    the DAG table, the tree, the grid's run row and the run's header."""
    r = run("etl", 9, "running", three(("success", "running", "none")), carrier=None)
    assert r.waiting and r.shown_state == "waiting" and r.state == "running"
    snap = snapshot(runs={"etl": (r,)})
    (row,) = dag_rows(snap)
    assert row.last_run == ("waiting", "03-09 00:00")
    (group,) = tree_nodes(snap, expanded=None)
    run_label = "".join(t for t, _ in group.children[0].children[0].label)
    assert run_label.startswith("w 03-09 00:00") and run_label.endswith("waiting")
    model = grid_model(spec(), [r], "UTC")
    assert model.cell(RUN_ROW, r.run_id) == ("waiting", 0) and model.runs[0].state == "waiting"
    header = "".join(t for t, _ in run_detail_line(r, "UTC", NOW))
    assert "w waiting (running; no process carries it out: S starts a scheduler)" in header


def test_a_carried_run_says_who_carries_it_out():
    """A run a foreground `flowctl run` owns reads running, by that process."""
    r = run("etl", 9, "running", three(("success", "running", "none")), carrier="run pid 40")
    assert not r.waiting and r.shown_state == "running"
    header = "".join(t for t, _ in run_detail_line(r, "UTC", NOW))
    assert "R running  by run pid 40  logical" in header


def test_took_so_far_moves_with_the_clock():
    """An active run's header says how long it has taken so far, from `now`."""
    r = run("etl", 9, "running", three(("success", "running", "none")))
    r = RunInfo(r.dag_id, r.run_id, {**r.run, "start_date": (NOW - timedelta(minutes=2)).isoformat()}, r.tis,
                r.version, carrier=r.carrier)
    first = "".join(t for t, _ in run_detail_line(r, "UTC", NOW))
    later = "".join(t for t, _ in run_detail_line(r, "UTC", NOW + timedelta(seconds=5)))
    assert first.endswith("took 2m00s so far")
    assert later.endswith("took 2m05s so far")


def test_filter_matches_id_tag_or_file():
    """Every word of the filter must appear in the DAG id, a tag or the file name."""
    s = spec(tags=("finance",), fileloc="/dags/ledger_file.py")
    assert matches(s, "etl", "")
    assert matches(s, "etl", "ET")
    assert matches(s, "etl", "fin ledger")
    assert not matches(s, "etl", "fin nothing")


def test_a_dag_whose_file_is_gone_still_has_a_row():
    """Runs of a DAG that is no longer in the folder keep a (marked) row."""
    snap = snapshot(dags={}, runs={"old": (run("old", 1, "success", three()),)})
    (row,) = dag_rows(snap)
    assert row.dag_id == "old" and row.broken and row.schedule == "?"


# -- the tree ------------------------------------------------------------------------------


def test_tree_groups_by_folder_then_dag_run_and_task_instance():
    """Folder -> DAG -> runs (newest first) -> task instances with their states."""
    sub = spec("nested", fileloc="/dags/team/nested.py")
    r1, r2 = run("etl", 1, "success", three()), run("etl", 2, "failed", three(("success", "failed", "upstream_failed")))
    snap = snapshot(dags={"etl": spec(), "nested": sub}, runs={"etl": (r2, r1)})
    groups = tree_nodes(snap)
    assert [g.key for g in groups] == ["g:/", "g:team/"]
    (dag,) = groups[0].children
    assert dag.dag_id == "etl" and [r.run_id for r in dag.children] == [r2.run_id, r1.run_id]
    labels = ["".join(t for t, _ in n.label) for n in dag.children[0].children]
    assert labels == ["S extract  success", "F transform  failed", "U load  upstream_failed"]


def test_tree_by_tag_lists_a_dag_under_each_tag():
    """Grouped by tag, a DAG with two tags sits under both; one without under (no tag)."""
    snap = snapshot(dags={"etl": spec(tags=("a", "b")), "x": spec("x", tags=())})
    groups = {g.key: [d.dag_id for d in g.children] for g in tree_nodes(snap, "tag")}
    assert groups == {"g:(no tag)": ["x"], "g:a": ["etl"], "g:b": ["etl"]}
    keys = [d.key for g in tree_nodes(snap, "tag") for d in g.children]
    assert len(keys) == len(set(keys))


# -- the grid -----------------------------------------------------------------------------------


def test_grid_runs_are_columns_oldest_left_and_tasks_rows():
    """Runs are columns oldest to newest; a first row holds run states; each
    cell is the task instance's (state, try)."""
    r1 = run("etl", 1, "failed", [ti("extract"), ti("transform", "failed", 2), ti("load", "upstream_failed", 0)])
    r2 = run("etl", 2, "running", [ti("extract"), ti("transform", "running"), ti("load", "none", 0)])
    model = grid_model(spec(), [r2, r1], "UTC")
    assert [c.run_id for c in model.runs] == [r1.run_id, r2.run_id]
    assert [(c.day, c.time) for c in model.runs] == [("03-01", "00:00"), ("03-02", "00:00")]
    assert [r.key for r in model.rows] == [RUN_ROW, "extract", "transform", "load"]
    assert model.cell(RUN_ROW, r1.run_id) == ("failed", 0)
    assert model.cell("transform", r1.run_id) == ("failed", 2)
    assert model.cell("load", r2.run_id) == ("none", 0)


def test_grid_keeps_tasks_only_old_runs_had():
    """A task removed from the file still shows for the runs that had it."""
    old = run("etl", 1, "success", [*three(), ti("legacy")])
    model = grid_model(spec(), [old], "UTC")
    legacy = model.rows[-1]
    assert (legacy.task_id, legacy.removed) == ("legacy", True)
    assert model.cell("legacy", old.run_id) == ("success", 1)


def test_grid_groups_task_group_members_under_a_group_row():
    """Members of a task group follow a group row whose cell aggregates them."""
    tasks = {"start": task(), "sales.load": task(["start"], "sales"), "sales.check": task(["sales.load"], "sales"),
             "publish": task(["sales.check"])}
    s = spec(tasks=tasks)
    r = run("etl", 1, "running", [ti("start"), ti("sales.load"), ti("sales.check", "running"), ti("publish", "none", 0)])
    model = grid_model(s, [r], "UTC")
    assert [(row.key, row.label) for row in model.rows] == [
        (RUN_ROW, "run"), ("start", "start"), ("group:sales", "▾ sales"), ("sales.load", "  load"),
        ("sales.check", "  check"), ("publish", "publish")]
    assert model.cell("group:sales", r.run_id) == ("running", 0)


# -- details and affected sets ------------------------------------------------------------------------


def test_details_of_a_running_task_show_time_so_far_and_the_reason():
    """A running task's details give its elapsed time and explain's reason."""
    r = run("etl", 1, "running", [ti("extract", "running", start=NOW - timedelta(seconds=42))])
    text = "\n".join("".join(t for t, _ in line)
                     for line in ti_detail_lines(r, "extract", spec(), "running try 1 since …", ["paused"], "UTC", NOW))
    assert "R running" in text and "try 1 of 2" in text and "42.0 s so far" in text
    assert "why    running try 1 since …" in text and "note   paused" in text
    assert "etl.extract (BashOperator)" in text


def test_mark_targets_are_the_task_and_with_downstream_its_descendants():
    """Marking with downstream sets the task and everything below it."""
    r = run("etl", 1, "failed", three(("success", "failed", "upstream_failed")))
    up = r.upstream()
    assert downstream_of(up, "extract") == ["load", "transform"]
    assert mark_targets(r, up, "transform", False) == [("transform", "failed")]
    assert mark_targets(r, up, "extract", True) == [("extract", "success"), ("transform", "failed"),
                                                     ("load", "upstream_failed")]


def test_mark_targets_of_one_instance_name_it_with_its_own_state():
    """On one instance of a mapped task, the mark sets that instance (its state, not
    the task's summed one) and, with downstream, the tasks below whole."""
    from dataclasses import replace

    r = replace(run("etl", 1, "failed", [ti("extract"), ti("load", "failed", mapped=True), ti("report", "none")]),
                instances={"load": tuple(ti("load", "failed" if i == 1 else "success", map_index=i) for i in range(3))})
    up = {"extract": (), "load": ("extract",), "report": ("load",)}
    assert mark_targets(r, up, "load", False, 1) == [("load[1]", "failed")]
    assert mark_targets(r, up, "load", True, 0) == [("load[0]", "success"), ("report", "none")]
    assert mark_targets(r, up, "load", False) == [("load", "failed")]


def test_plan_lines_list_each_instance_with_its_reason():
    """A clear plan shows task, logical date, state, try and why."""
    plan = [{"run_id": "scheduled__2026-03-01T00:00:00+00:00", "task_id": "load", "state": "failed",
             "try_number": 2, "why": "selected"}]
    (line,) = plan_lines(plan, "UTC")
    assert "".join(t for t, _ in line) == "F load  03-01 00:00  failed  try 2  selected"
    (one,) = plan_lines([{**plan[0], "map_index": 3}], "UTC")
    assert "".join(t for t, _ in one).startswith("F load[3]  03-01")


# -- graph ---------------------------------------------------------------------------------------


def test_levels_are_longest_paths_from_the_roots():
    """A task sits one level right of its deepest upstream."""
    up = {"a": (), "b": ("a",), "c": ("a", "b"), "d": ()}
    assert levels_of(list(up), up) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_graph_draws_a_chain_on_one_line():
    """A chain is one row of boxes joined by arrows, each with its state letter."""
    up = {"extract": (), "transform": ("extract",), "load": ("transform",)}
    lines = graph_lines(list(up), up, {"extract": "success", "transform": "failed"})
    text = ["".join(t for t, _ in line) for line in lines]
    assert text == ["[S] extract────▶[F] transform────▶[-] load"]


def test_graph_routes_edges_that_skip_a_level_and_fan_out():
    """A fan-out splits (┬), an edge skipping a level runs past the middle
    column, and they join (┘) at the target."""
    up = {"a": (), "b": ("a",), "c": ("a", "b")}
    text = ["".join(t for t, _ in line) for line in graph_lines(list(up), up, {})]
    assert text[0].startswith("[-] a─┬──▶[-] b─")
    assert text[0].endswith("▶[-] c")
    assert text[2].strip().startswith("└") and "┘" in text[2]
    styles = {style for line in graph_lines(list(up), up, {"a": "success"}) for _, style in line}
    assert "bold green" in styles


# -- gantt -------------------------------------------------------------------------------------


def test_gantt_places_bars_on_one_time_axis():
    """Each task's bar starts and ends where its try did; earlier tries are
    ▒, the latest █; a running task reaches to now."""
    t0 = NOW - timedelta(minutes=10)
    r = run("etl", 1, "running", [
        ti("extract", start=t0, end=t0 + timedelta(minutes=5),
           tries=[{"try_number": 1, "start_date": t0.isoformat(),
                   "end_date": (t0 + timedelta(minutes=5)).isoformat()}]),
        ti("transform", "running", 2, start=t0 + timedelta(minutes=7),
           tries=[{"try_number": 1, "start_date": (t0 + timedelta(minutes=5)).isoformat(),
                   "end_date": (t0 + timedelta(minutes=6)).isoformat()}]),
        ti("load", "none", 0),
    ])
    lines = gantt_lines(r, NOW, "UTC", 70)
    text = ["".join(t for t, _ in line) for line in lines]
    assert text[0].lstrip().startswith("08:50:00") and "09:00:00" in text[0]
    bar_w = len(text[1].strip())
    extract = text[2][12:12 + bar_w]
    assert extract.startswith("█") and extract.count("█") == bar_w // 2
    transform = text[3][12:12 + bar_w]
    assert "▒" in transform and transform.rstrip().endswith("█")
    assert text[4].startswith("- load") and text[4].rstrip().endswith("none")


def test_gantt_of_a_run_that_has_not_started():
    """Before any task starts the gantt says so."""
    r = run("etl", 1, "queued", three(("none", "none", "none")))
    assert "has started yet" in gantt_lines(r, NOW, "UTC", 80)[0][0][0]


# -- header ---------------------------------------------------------------------------------------


def test_status_line_says_whether_a_scheduler_runs():
    """The header names the scheduler's pid and heartbeat, or offers to start one."""
    up = "".join(t for t, _ in status_line({"running": True, "pid": 42, "heartbeat": (NOW - timedelta(seconds=2)).isoformat()},
                                           NOW, "UTC", 3, 1, "etl"))
    assert up.startswith(" etl │ ● scheduler pid 42, beat 2s ago │ 3 DAGs │ 1 import error")
    assert up.endswith("2026-03-02 09:00:00 UTC")
    down = "".join(t for t, _ in status_line({"running": False}, NOW, "UTC", 1, 0))
    assert down.startswith(" ○ no scheduler (S starts one) │ 1 DAG │")


def test_header_says_which_processes_carry_the_runs_out():
    """Besides the scheduler, the header names a foreground `run` and a
    backfill started here (with its DAGs), and counts runs nobody carries out."""
    snap = snapshot(runs={
        "etl": (run("etl", 9, "running", three(), carrier="run pid 40"),
                run("etl", 8, "queued", three(), carrier="scheduler pid 7")),
        "other": (run("other", 9, "running", three(), carrier=None),
                  run("other", 8, "running", three(), carrier="process pid 41")),
        "done": (run("done", 9, "success", three()),),
    })
    others, waiting = carriers(snap, {41: "other", 50: "etl"})
    assert [(c.label, c.dag_ids, c.here) for c in others] == [
        ("backfill pid 41", ("other",), True), ("backfill pid 50", ("etl",), True), ("run pid 40", ("etl",), False)]
    assert waiting == 1
    text = "".join(t for t, _ in status_line({"running": False}, NOW, "UTC", 3, 0, "", others, waiting))
    assert ("○ no scheduler (S starts one) │ ● backfill pid 41 (started here): other │ ● backfill pid 50 "
            "(started here): etl │ ● run pid 40: etl │ 1 run waiting │ 3 DAGs") in text


# -- order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("order", "upstream", "expected"), [
    pytest.param(["load", "transform", "extract"], {"transform": ["extract"], "load": ["transform"]},
                 ["extract", "transform", "load"], id="reversed-chain"),
    pytest.param(["a", "b", "c"], {"c": ["a"]}, ["a", "b", "c"], id="already-fine-kept"),
    pytest.param(["x", "join", "y"], {"join": ["x", "y"]}, ["x", "y", "join"], id="fan-in"),
    pytest.param(["b", "a"], {"a": ["b"], "b": ["a"]}, ["b", "a"], id="cycle-left-as-given"),
    pytest.param(["a", "b"], {"b": ["gone"]}, ["a", "b"], id="unknown-upstream-ignored"),
])
def test_upstream_first_is_a_stable_topological_order(order, upstream, expected):
    """Every task after its upstream tasks, otherwise in the order given."""
    assert upstream_first(order, upstream) == expected


def test_grid_rows_follow_the_dags_order_upstream_first():
    """Grid rows go upstream first even when the order at hand is not (an
    older run's version, or a spec listed in another order)."""
    tasks = {"load": task(["transform"]), "transform": task(["extract"]), "extract": task()}
    s = spec(tasks=tasks)
    assert s.order == ("load", "transform", "extract")
    r = run("etl", 1, "success", three(), version={
        "order": ["gone_b", "gone_a"],
        "tasks": {"gone_a": {"upstream": []}, "gone_b": {"upstream": ["gone_a"]}}})
    model = grid_model(s, [r], "UTC")
    assert [row.key for row in model.rows] == [RUN_ROW, "extract", "transform", "load", "gone_a", "gone_b"]


def test_a_mapped_task_row_counts_its_instances_and_its_detail_sums_them_up():
    """The grid's row of a mapped task shows how many instances the newest run made
    (`[ ]` before any did); the detail counts their states, or shows the one chosen."""
    from dataclasses import replace

    mapped_task = SimpleNamespace(upstream=("extract",), group_id=None, operator="@task (mapped)",
                                  mapped={"kind": "expand"})
    s = spec(tasks={"extract": task(), "load": mapped_task})
    older = replace(run("etl", 1, "success", [ti("extract"), ti("load", mapped=True)]),
                    instances={"load": (ti("load", map_index=0), ti("load", map_index=1))})
    newer = replace(run("etl", 2, "success", [ti("extract"), ti("load", mapped=True)]),
                    instances={"load": tuple(ti("load", "failed" if i == 2 else "success", map_index=i)
                                             for i in range(3))})
    labels = {row.key: row.label for row in grid_model(s, [newer, older], "UTC").rows}
    assert labels["load"] == "load [3]" and labels["extract"] == "extract"
    unexpanded = {row.key: row.label for row in grid_model(s, [run("etl", 3, "queued", [ti("load", "none")])],
                                                           "UTC").rows}
    assert unexpanded["load"] == "load [ ]"
    whole = "".join(text for line in ti_detail_lines(newer, "load", s, None, [], "UTC", NOW) for text, _ in line)
    assert "3 instances: 1 failed, 2 success" in whole
    one = "".join(text for line in ti_detail_lines(newer, "load", s, None, [], "UTC", NOW, 2) for text, _ in line)
    assert "instance 2 of 3" in one and "failed" in one
    expanded = grid_model(s, [newer, older], "UTC", expanded={"load"})
    keys = [row.key for row in expanded.rows]
    assert keys[keys.index("load") + 1:] == ["load[0]", "load[1]", "load[2]"]
    assert [(r.label, r.task_id, r.map_index) for r in expanded.rows if r.map_index >= 0][2] == ("  [2]", "load", 2)
    assert expanded.cell("load[2]", newer.run_id) == ("failed", 1) and expanded.cell("load[2]", older.run_id) is None
    assert expanded.cell("load[1]", older.run_id) == ("success", 1)
    assert [r.key for r in grid_model(s, [newer], "UTC", expanded={"extract"}).rows] == [
        r.key for r in grid_model(s, [newer], "UTC").rows]  # a task that is not mapped has no instances


def test_a_runs_conf_shows_its_secrets_as_stars():
    r = run("etl", 1, "success", three())
    r = RunInfo(r.dag_id, r.run_id, {**r.run, "conf": {"password": "conf-pw-111111", "user": "ann"}}, r.tis, r.version)
    text = "".join(t for t, _ in run_detail_line(r, "UTC", NOW))
    assert "conf-pw-111111" not in text and '"password": "***"' in text and "ann" in text


def test_error_banner_names_the_first_file():
    """The banner counts the broken files and names the first."""
    errs = [SimpleNamespace(fileloc="/d/a.py", error="x"), SimpleNamespace(fileloc="/d/b.py", error="y")]
    assert error_banner(errs) == "⚠ 2 DAG files failed to import (a.py and 1 more): press e to read"
    assert error_banner([]) == ""


def test_asset_lines_say_who_updates_what_it_schedules_and_when():
    """One line per asset: its URI (and name when it differs), producers, consumers,
    the last update in the zone with how long ago, and the count of events."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    rows = [
        {"uri": "s3://a", "name": "s3://a", "producers": ["p.make"], "consumers": ["c1", "c2"],
         "last_update": "2026-03-02T10:00:00+00:00", "events": 3},
        {"uri": "file:///x", "name": "x", "producers": [], "consumers": ["c3"], "last_update": None, "events": 0},
    ]
    assert asset_lines(rows, "Europe/Amsterdam", now) == [
        ("s3://a", "p.make", "c1, c2", "2026-03-02 11:00:00 (2h ago)", "3"),
        ("file:///x (x)", "-", "c3", "never", "0"),
    ]


def test_setup_and_teardown_tasks_are_named_in_the_grid():
    """A setup or teardown task's row says what it is."""
    from flowctl import DAG, EmptyOperator
    from flowctl.specs import DagSpec
    from flowctl.tui.views import grid_model

    with DAG("st", schedule=None) as dag:
        create = EmptyOperator(task_id="create")
        create >> EmptyOperator(task_id="query") >> EmptyOperator(task_id="delete").as_teardown(setups=create)
    spec = DagSpec.from_dag(dag, "/dags/st.py", "UTC")
    labels = {row.key: row.label for row in grid_model(spec, [], "UTC").rows}
    assert labels["create"] == "create (setup)" and labels["query"] == "query"
    assert labels["delete"] == "delete (teardown)"
