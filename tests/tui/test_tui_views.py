"""The TUI's view models (`flowctl.tui.views`): store state in, rows and lines out; no Textual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from flowctl.states import STATE_COLOURS, TaskState
from flowctl.tui.charts import gantt_lines, graph_lines, levels_of
from flowctl.tui.views import (
    LAST_RUNS,
    RUN_ROW,
    STATE_LETTERS,
    RunInfo,
    Snapshot,
    aggregate_state,
    dag_rows,
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
    state_cell,
    status_line,
    ti_detail_lines,
    tree_nodes,
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


def run(dag_id, day, state="success", tis=(), run_type="scheduled", version=None):
    logical = datetime(2026, 3, day, tzinfo=UTC).isoformat()
    run_id = f"{run_type}__{logical}"
    doc = {"dag_id": dag_id, "run_id": run_id, "state": state, "logical_date": logical, "run_type": run_type,
           "conf": {}}
    if version is None:
        version = {"order": [t["task_id"] for t in tis],
                   "tasks": {"extract": {"upstream": []}, "transform": {"upstream": ["extract"]},
                             "load": {"upstream": ["transform"]}}}
    return RunInfo(dag_id, run_id, doc, tuple(tis), version)


def three(states=("success", "success", "success")):
    return [ti("extract", states[0]), ti("transform", states[1]), ti("load", states[2])]


def snapshot(**kw):
    base = dict(seq=1, now=NOW, tz="UTC", dags={"etl": spec()}, dags_folder="/dags")
    base.update(kw)
    return Snapshot(**base)


# -- states ----------------------------------------------------------------------------


def test_every_state_has_its_own_letter_and_a_colour():
    """Letters as well as colours: each state reads without colour, and no two share a letter."""
    assert set(STATE_LETTERS) == {s.value for s in TaskState}
    assert len(set(STATE_LETTERS.values())) == len(STATE_LETTERS)
    assert set(STATE_LETTERS) <= set(STATE_COLOURS)
    assert state_cell("failed") == ("F", "bold red")
    text = "".join(t for t, _ in legend())
    assert all(f"{letter} {state}" in text for state, letter in STATE_LETTERS.items())


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


def test_dag_row_has_last_runs_oldest_first_and_counts():
    """The table's last runs are the newest few, oldest on the left; running
    counts active task instances, failed counts failed ones in recent runs."""
    runs = tuple(run("etl", d, "success", three()) for d in range(8, 1, -1))
    active = run("etl", 9, "running", three(("success", "running", "none")))
    failed = run("etl", 1, "failed", three(("success", "failed", "upstream_failed")))
    snap = snapshot(runs={"etl": (active, *runs, failed)}, flags={"etl": {"paused": True}},
                    next_runs={"etl": "2026-03-02T00:00:00+00:00"})
    (row,) = dag_rows(snap)
    assert len(row.last_runs) == LAST_RUNS
    assert [s for _, s in row.last_runs] == ["success"] * 4 + ["running"]
    assert row.last_runs[-1][0] == active.run_id
    assert (row.paused, row.running, row.failed, row.next_run) == (True, 1, 1, "03-02 00:00")


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
    assert "why       running try 1 since …" in text and "note      paused" in text


def test_mark_targets_are_the_task_and_with_downstream_its_descendants():
    """Marking with downstream sets the task and everything below it."""
    r = run("etl", 1, "failed", three(("success", "failed", "upstream_failed")))
    up = r.upstream()
    assert downstream_of(up, "extract") == ["load", "transform"]
    assert mark_targets(r, up, "transform", False) == [("transform", "failed")]
    assert mark_targets(r, up, "extract", True) == [("extract", "success"), ("transform", "failed"),
                                                     ("load", "upstream_failed")]


def test_plan_lines_list_each_instance_with_its_reason():
    """A clear plan shows task, logical date, state, try and why."""
    plan = [{"run_id": "scheduled__2026-03-01T00:00:00+00:00", "task_id": "load", "state": "failed",
             "try_number": 2, "why": "selected"}]
    (line,) = plan_lines(plan, "UTC")
    assert "".join(t for t, _ in line) == "F load  03-01 00:00  failed  try 2  selected"


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


def test_error_banner_names_the_first_file():
    """The banner counts the broken files and names the first."""
    errs = [SimpleNamespace(fileloc="/d/a.py", error="x"), SimpleNamespace(fileloc="/d/b.py", error="y")]
    assert error_banner(errs) == "⚠ 2 DAG files failed to import (a.py and 1 more): press e to read"
    assert error_banner([]) == ""
