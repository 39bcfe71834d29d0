"""`flowctl backfill`, `clear`, `tasks mark`, DAG versions and depends_on_past, end to end
on a daily incremental DAG whose tasks write one file per `{{ ds }}`."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(120)

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]

# Every task appends "<task> try <n>" to ran_<ds>.log (so a second execution shows) and
# writes <task>_<ds>.txt with its code version. The markers @...@ are filled by inc_dag().
INC = '''
import time
import pendulum
from flowctl import DAG, BashOperator, PythonOperator

OUT = @OUT@


def transform(ds, ti):
    time.sleep(@SLEEP@)
    with open(f"{OUT}/ran_{ds}.log", "a") as f:
        f.write(f"transform try {ti.try_number}\\n")
    if ds in @FAIL_ON@:
        raise RuntimeError("no data for " + ds)
    with open(f"{OUT}/transform_{ds}.txt", "w") as f:
        f.write("@TRANSFORM@ " + ds)


with DAG("inc", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         catchup=False, max_active_runs=@MAX_RUNS@) as dag:
    extract = BashOperator(
        task_id="extract",
        bash_command="sleep @SLEEP@; echo extract try {{ ti.try_number }} >> " + OUT + "/ran_{{ ds }}.log; "
                     "echo @EXTRACT@ {{ ds }} > " + OUT + "/extract_{{ ds }}.txt",
    )
    clean = PythonOperator(task_id="transform", python_callable=transform, depends_on_past=@DOP@)
    extract >> clean
    @LOAD@
'''

LOAD = ('load = BashOperator(task_id="load", bash_command="echo load try {{ ti.try_number }} >> " + OUT + '
        '"/ran_{{ ds }}.log; cat " + OUT + "/transform_{{ ds }}.txt > " + OUT + "/load_{{ ds }}.txt"); clean >> load')


def inc_dag(out: Path, *, extract: str = "v1", transform: str = "v1", fail_on: tuple[str, ...] = (),
            sleep: float = 0, load: bool = True, depends_on_past: bool = False, max_runs: int = 16) -> str:
    """The source of DAG `inc`: extract >> transform >> load, writing into `out`."""
    values = {"OUT": repr(str(out)), "EXTRACT": extract, "TRANSFORM": transform, "FAIL_ON": repr(tuple(fail_on)),
              "SLEEP": repr(sleep), "LOAD": LOAD if load else "", "DOP": repr(depends_on_past),
              "MAX_RUNS": str(max_runs)}
    source = INC
    for key, value in values.items():
        source = source.replace(f"@{key}@", value)
    return source


@pytest.fixture
def out(flow) -> Path:
    path = flow.root / "out"
    path.mkdir()
    return path


def rid(day: str, kind: str = "backfill") -> str:
    return f"{kind}__{day}T00:00:00+00:00"


def runs(flow, dag_id: str = "inc") -> list[dict[str, Any]]:
    res = flow("runs", "list", "--dag", dag_id, "--json")
    assert res.code == 0, res.err
    return res.json()


def states(flow, run_id: str, dag_id: str = "inc") -> dict[str, dict[str, Any]]:
    res = flow("tasks", "states", dag_id, run_id, "--json")
    assert res.code == 0, res.err
    return {t["task_id"]: t for t in res.json()}


def tries(flow) -> dict[tuple[str, str], int]:
    """(run id, task id) -> try number, over every run of `inc`."""
    return {(r["run_id"], tid): ti["try_number"] for r in runs(flow) for tid, ti in states(flow, r["run_id"]).items()}


def ran(out: Path, day: str) -> list[str]:
    path = out / f"ran_{day}.log"
    return path.read_text().splitlines() if path.exists() else []


def run_file_state(flow, run_id: str, dag_id: str = "inc") -> str | None:
    """The run's state as committed, read through the store (cheap enough to poll)."""
    from flowctl.store import Store

    data = Store(flow.home).read_run(dag_id, run_id)
    return data.record.state if data is not None else None


def backfill(flow, *args: str, timeout: float = 60) -> Any:
    return flow("backfill", "inc", *args, timeout=timeout)


def plan_of(flow, *args: str) -> list[tuple[str, str]]:
    """`clear --dry-run --json`: the (run id, task id) pairs it would reset, sorted."""
    res = flow("clear", "inc", *args, "--dry-run", "--json")
    assert res.code == 0, res.err
    return sorted((t["run_id"], t["task_id"]) for t in res.json()["task_instances"])


def until_idle(flow) -> Any:
    try:
        res = flow("scheduler", "--until-idle", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("flowctl scheduler --until-idle did not exit within 60 s")
    return res


# -- backfill ------------------------------------------------------------------------------


def test_five_day_backfill_makes_five_runs_and_repeating_it_changes_nothing(flow, out):
    """A 5-day backfill makes 5 backfill runs with the right data intervals and one file per
    day; the same command again keeps the same run ids and try numbers and runs nothing."""
    flow.write_dag("inc.py", inc_dag(out))
    res = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1])
    assert res.code == 0, res.err

    made = sorted(runs(flow), key=lambda r: r["logical_date"])
    assert [r["run_id"] for r in made] == [rid(d) for d in DAYS]
    for r, day in zip(made, DAYS, strict=True):
        assert r["run_type"] == "backfill" and r["state"] == "success", r
        assert r["logical_date"] == r["data_interval_start"] == f"{day}T00:00:00+00:00"
        assert r["data_interval_end"] == f"{date.fromisoformat(day) + timedelta(days=1)}T00:00:00+00:00"
        assert (out / f"extract_{day}.txt").read_text() == f"v1 {day}\n"
        assert (out / f"load_{day}.txt").read_text() == f"v1 {day}"
        assert ran(out, day) == ["extract try 1", "transform try 1", "load try 1"]
    before = tries(flow)
    assert set(before.values()) == {1} and len(before) == 15
    files = flow.state_files()

    again = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1], "--json")
    assert again.code == 0, again.err
    assert {r["action"] for r in again.json()["runs"]} == {"skip"}
    assert flow.state_files() == files
    assert tries(flow) == before
    assert [r["run_id"] for r in sorted(runs(flow), key=lambda r: r["logical_date"])] == [rid(d) for d in DAYS]
    for day in DAYS:
        assert ran(out, day) == ["extract try 1", "transform try 1", "load try 1"]


def test_dry_run_lists_every_interval_with_its_action_and_changes_nothing(flow, out):
    """`backfill --dry-run` lists all 5 intervals (create for new ones, skip for existing ones,
    reprocess with --reprocess completed) and leaves the state files byte-identical."""
    flow.write_dag("inc.py", inc_dag(out))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[1]).code == 0
    before = flow.state_files()
    assert before

    res = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1], "--dry-run", "--json")
    assert res.code == 0, res.err
    plan = res.json()["intervals"]
    assert [p["logical_date"] for p in plan] == [f"{d}T00:00:00+00:00" for d in DAYS]
    assert [p["action"] for p in plan] == ["skip", "skip", "create", "create", "create"]
    assert plan[2]["data_interval_end"] == "2026-01-04T00:00:00+00:00"

    table = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1], "--dry-run")
    assert table.code == 0, table.err
    assert "create" in table.out and "skip" in table.out

    redo = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1], "--dry-run", "--json", "--reprocess", "completed")
    assert [p["action"] for p in redo.json()["intervals"]] == ["reprocess", "reprocess", "create", "create", "create"]

    assert flow.state_files() == before
    assert len(runs(flow)) == 2
    assert not (out / f"extract_{DAYS[2]}.txt").exists()


def test_reprocess_failed_reruns_only_the_failed_run(flow, out):
    """A day whose transform failed makes the backfill exit 1; after the fix,
    `--reprocess failed` re-runs that run's failed and upstream_failed tasks and nothing else."""
    flow.write_dag("inc.py", inc_dag(out, fail_on=(DAYS[2],)))
    res = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1])
    assert res.code == 1, res.out
    by_id = {r["run_id"]: r["state"] for r in runs(flow)}
    assert by_id == {rid(d): ("failed" if d == DAYS[2] else "success") for d in DAYS}
    bad = states(flow, rid(DAYS[2]))
    assert (bad["transform"]["state"], bad["load"]["state"]) == ("failed", "upstream_failed")
    before = tries(flow)

    flow.write_dag("inc.py", inc_dag(out))
    res = backfill(flow, "--start", DAYS[0], "--end", DAYS[-1], "--reprocess", "failed", "--json")
    assert res.code == 0, res.err
    actions = {r["run_id"]: r["action"] for r in res.json()["runs"]}
    assert actions == {rid(d): ("reprocess" if d == DAYS[2] else "skip") for d in DAYS}
    assert {r["state"] for r in runs(flow)} == {"success"}

    after = tries(flow)
    changed = {k: (before[k], after[k]) for k in after if after[k] != before[k]}
    assert changed == {(rid(DAYS[2]), "transform"): (1, 2), (rid(DAYS[2]), "load"): (0, 1)}
    assert ran(out, DAYS[2]) == ["extract try 1", "transform try 1", "transform try 2", "load try 1"]
    for day in DAYS[:2] + DAYS[3:]:
        assert ran(out, day) == ["extract try 1", "transform try 1", "load try 1"]


def test_max_active_runs_one_run_backwards_runs_newest_first_without_overlap(flow, out):
    """`--max-active-runs 1 --run-backwards`: runs start newest logical date first, and each
    starts only after the previous one ended."""
    flow.write_dag("inc.py", inc_dag(out, sleep=0.1))
    res = backfill(flow, "--start", DAYS[0], "--end", DAYS[3], "--max-active-runs", "1", "--run-backwards")
    assert res.code == 0, res.err
    made = sorted(runs(flow), key=lambda r: r["start_date"])
    assert [r["logical_date"][:10] for r in made] == list(reversed(DAYS[:4]))
    for earlier, later in zip(made, made[1:], strict=False):
        assert datetime.fromisoformat(later["start_date"]) >= datetime.fromisoformat(earlier["end_date"]), (earlier, later)


def interrupt_backfill(flow, args: tuple[str, ...], when: Callable[[], Any]) -> subprocess.Popen:
    """Start `flowctl <args>`, send it SIGINT (Ctrl-C) once `when()` is true, wait for it to exit."""
    proc = flow.popen(*args)
    try:
        wait_for("the moment to press Ctrl-C", when)
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the backfill did not stop within 30 s of Ctrl-C")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc


def test_an_interrupted_backfill_resumes_and_runs_no_task_twice(flow, out):
    """Ctrl-C once the second of three runs has started stops the backfill (exit not 0,
    run 3 never made); the same command again takes over run 2 and makes run 3, all end
    success, and no task ran twice for any day."""
    flow.write_dag("inc.py", inc_dag(out, sleep=0.4))
    args = ("backfill", "inc", "--start", DAYS[0], "--end", DAYS[2], "--max-active-runs", "1")
    proc = interrupt_backfill(flow, args, lambda: run_file_state(flow, rid(DAYS[1])) is not None)
    assert proc.returncode != 0, "an interrupted backfill must not report success"
    left = {r["run_id"]: r["state"] for r in runs(flow)}
    assert left[rid(DAYS[0])] == "success"
    assert left[rid(DAYS[1])] in ("queued", "running"), left
    assert rid(DAYS[2]) not in left

    plan = flow("backfill", *args[1:], "--dry-run", "--json").json()["intervals"]
    assert [p["action"] for p in plan] == ["skip", "resume", "create"]
    res = flow(*args)
    assert res.code == 0, res.err + res.out
    assert sorted((r["run_id"], r["state"]) for r in runs(flow)) == [(rid(d), "success") for d in DAYS[:3]]
    for day in DAYS[:3]:
        assert sorted(line.split()[0] for line in ran(out, day)) == ["extract", "load", "transform"], ran(out, day)
        assert (out / f"load_{day}.txt").read_text() == f"v1 {day}"


def test_a_backfill_interrupted_during_a_run_says_so_and_does_not_exit_0(flow, out):
    """Ctrl-C during run 1 of 3: the running task finishes, nothing new starts, runs 2 and 3
    are never made, and the backfill says it was interrupted and exits 1, so a script does
    not go on as if every interval ran."""
    flow.write_dag("inc.py", inc_dag(out, sleep=0.4))
    proc = flow.popen("backfill", "inc", "--start", DAYS[0], "--end", DAYS[2], "--max-active-runs", "1")
    try:
        wait_for("run 1 to be running", lambda: run_file_state(flow, rid(DAYS[0])) == "running")
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, stdout
    assert "Interrupted" in stdout and "run the same command again to resume" in stdout
    assert [r["run_id"] for r in runs(flow)] == [rid(DAYS[0])]
    assert run_file_state(flow, rid(DAYS[0])) in ("queued", "running")  # resumed by the next backfill


# -- clear -------------------------------------------------------------------------------------


def test_clear_one_task_over_two_days_reruns_exactly_those_instances_with_the_new_code(flow, out):
    """After the transform's code changes, `clear --task transform --start D2 --end D3 --yes`
    and `scheduler --until-idle` re-run exactly those two instances (try 2, new output)."""
    flow.write_dag("inc.py", inc_dag(out))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[3]).code == 0
    assert flow("pause", "inc").code == 0  # no scheduled run for yesterday: only the cleared work
    before = tries(flow)
    flow.write_dag("inc.py", inc_dag(out, transform="v2"))

    res = flow("clear", "inc", "--task", "^transform$", "--start", DAYS[1], "--end", DAYS[2], "--yes", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["cleared"] == 2
    assert sorted((t["run_id"], t["task_id"]) for t in doc["task_instances"]) == [
        (rid(DAYS[1]), "transform"), (rid(DAYS[2]), "transform")]
    assert {r["run_id"]: r["state"] for r in runs(flow)}[rid(DAYS[1])] == "queued"

    idle = until_idle(flow)
    assert idle.code == 0, idle.err
    assert sorted(r["run_id"] for r in runs(flow)) == [rid(d) for d in DAYS[:4]]
    assert {r["state"] for r in runs(flow)} == {"success"}
    after = tries(flow)
    assert {k for k in after if after[k] != before[k]} == {(rid(DAYS[1]), "transform"), (rid(DAYS[2]), "transform")}
    assert after[(rid(DAYS[1]), "transform")] == after[(rid(DAYS[2]), "transform")] == 2
    for day in DAYS[:4]:
        new = day in DAYS[1:3]
        assert (out / f"transform_{day}.txt").read_text() == f"{'v2' if new else 'v1'} {day}"
        assert (out / f"load_{day}.txt").read_text() == f"v1 {day}"  # load was not cleared
        expected = ["extract try 1", "transform try 1", "load try 1"] + (["transform try 2"] if new else [])
        assert ran(out, day) == expected
    first = flow("logs", "inc", rid(DAYS[1]), "transform", "--try", "1")
    assert first.code == 0 and "try 1" in first.out, first.err


def test_downstream_and_only_failed_select_what_they_say(flow, out):
    """`clear --dry-run --json`: --task with --downstream adds everything below it; --only-failed
    picks only failed and upstream_failed instances; a dry run changes nothing."""
    flow.write_dag("inc.py", inc_dag(out, fail_on=(DAYS[1],)))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[2]).code == 1
    before = flow.state_files()

    assert plan_of(flow, "--task", "^extract$", "--run", rid(DAYS[0])) == [(rid(DAYS[0]), "extract")]
    assert plan_of(flow, "--task", "^extract$", "--run", rid(DAYS[0]), "--downstream") == [
        (rid(DAYS[0]), "extract"), (rid(DAYS[0]), "load"), (rid(DAYS[0]), "transform")]
    assert plan_of(flow, "--task", "^transform$", "--start", DAYS[0], "--end", DAYS[2], "--downstream") == sorted(
        (rid(d), t) for d in DAYS[:3] for t in ("transform", "load"))
    assert plan_of(flow, "--only-failed") == [(rid(DAYS[1]), "load"), (rid(DAYS[1]), "transform")]
    assert plan_of(flow, "--only-failed", "--task", "^extract$") == []
    assert plan_of(flow, "--task", "^load$", "--upstream", "--run", rid(DAYS[2])) == [
        (rid(DAYS[2]), t) for t in ("extract", "load", "transform")]
    assert flow.state_files() == before


def test_a_cleared_failed_upstream_that_now_succeeds_is_followed_by_its_downstream(flow, out):
    """Clearing only the failed transform (after the fix) also resets its upstream_failed load,
    so the scheduler runs both and the run ends success; other runs are untouched."""
    flow.write_dag("inc.py", inc_dag(out, fail_on=(DAYS[1],)))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[2]).code == 1
    assert flow("pause", "inc").code == 0
    flow.write_dag("inc.py", inc_dag(out))

    res = flow("clear", "inc", "--task", "^transform$", "--run", rid(DAYS[1]), "--yes", "--json")
    assert res.code == 0, res.err
    planned = {t["task_id"]: t for t in res.json()["task_instances"]}
    assert set(planned) == {"transform", "load"}
    assert planned["load"]["state"] == "upstream_failed"

    assert until_idle(flow).code == 0
    healed = states(flow, rid(DAYS[1]))
    assert (healed["transform"]["state"], healed["transform"]["try_number"]) == ("success", 2)
    assert (healed["load"]["state"], healed["load"]["try_number"]) == ("success", 1)
    assert {r["run_id"]: r["state"] for r in runs(flow)} == {rid(d): "success" for d in DAYS[:3]}
    assert (out / f"load_{DAYS[1]}.txt").read_text() == f"v1 {DAYS[1]}"
    assert ran(out, DAYS[0]) == ["extract try 1", "transform try 1", "load try 1"]


def test_clear_changed_selects_only_instances_whose_code_changed_then_nothing(flow, out):
    """Editing the transform's function body and the extract's bash command makes
    `clear --changed` select exactly those instances (load unchanged); once cleared and
    re-run with the new code, `clear --changed` selects nothing."""
    flow.write_dag("inc.py", inc_dag(out))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[2]).code == 0
    assert flow("pause", "inc").code == 0
    assert plan_of(flow, "--changed") == []

    flow.write_dag("inc.py", inc_dag(out, transform="v2"))
    assert plan_of(flow, "--changed") == [(rid(d), "transform") for d in DAYS[:3]]
    assert plan_of(flow, "--changed", "--start", DAYS[1]) == [(rid(d), "transform") for d in DAYS[1:3]]
    assert plan_of(flow, "--changed", "--downstream", "--run", rid(DAYS[0])) == [
        (rid(DAYS[0]), "load"), (rid(DAYS[0]), "transform")]

    flow.write_dag("inc.py", inc_dag(out, transform="v2", extract="v2"))
    assert plan_of(flow, "--changed") == sorted((rid(d), t) for d in DAYS[:3] for t in ("extract", "transform"))

    res = flow("clear", "inc", "--changed", "--yes")
    assert res.code == 0, res.err
    assert until_idle(flow).code == 0
    assert {r["state"] for r in runs(flow)} == {"success"}
    for day in DAYS[:3]:
        assert (out / f"extract_{day}.txt").read_text() == f"v2 {day}\n"
        assert (out / f"transform_{day}.txt").read_text() == f"v2 {day}"
        tis = states(flow, rid(day))
        assert (tis["extract"]["try_number"], tis["transform"]["try_number"], tis["load"]["try_number"]) == (2, 2, 1)
    assert plan_of(flow, "--changed") == []


def test_clear_without_yes_and_without_a_terminal_is_refused_and_changes_nothing(flow, out):
    """`clear` with stdin not a terminal and no --yes exits 2 with one line on stderr, and
    every state file stays byte-identical."""
    flow.write_dag("inc.py", inc_dag(out))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[1]).code == 0
    before = flow.state_files()
    res = flow("clear", "inc", "--task", "transform")
    assert res.code == 2, (res.code, res.out, res.err)
    assert "--yes" in res.err and "Traceback" not in res.err
    piped = flow("clear", "inc", "--task", "transform", input="y\n")
    assert piped.code == 2, (piped.code, piped.out, piped.err)
    assert flow.state_files() == before


# -- mark, DAG versions, depends_on_past --------------------------------------------------------


def test_marking_a_failed_task_success_lets_its_upstream_failed_downstream_run(flow, out):
    """`tasks mark ... --state success` on a failed transform heals the upstream_failed load:
    the next `--until-idle` runs load (and not transform again) and the run ends success."""
    flow.write_dag("inc.py", inc_dag(out, fail_on=(DAYS[0],)))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[0]).code == 1
    assert flow("pause", "inc").code == 0
    (out / f"transform_{DAYS[0]}.txt").write_text("fixed by hand")

    res = flow("tasks", "mark", "inc", rid(DAYS[0]), "transform", "--state", "success")
    assert res.code == 0, res.err
    tis = states(flow, rid(DAYS[0]))
    assert (tis["transform"]["state"], tis["load"]["state"]) == ("success", "none")
    why = {t["task_id"]: t["reason"] for t in flow("explain", "inc", rid(DAYS[0]), "--json").json()["tasks"]}
    assert why["transform"].startswith("marked success by hand at "), why  # not what its failed try did

    assert until_idle(flow).code == 0
    tis = states(flow, rid(DAYS[0]))
    assert (tis["transform"]["state"], tis["transform"]["try_number"]) == ("success", 1)
    assert (tis["load"]["state"], tis["load"]["try_number"]) == ("success", 1)
    assert [r["state"] for r in runs(flow)] == ["success"]
    assert (out / f"load_{DAYS[0]}.txt").read_text() == "fixed by hand"


def test_a_run_made_before_a_task_was_removed_still_shows_that_task(flow, out):
    """After `load` is removed from the file, the old run still lists load (success) in
    `tasks states`, while a new run has only the current tasks."""
    flow.write_dag("inc.py", inc_dag(out))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[0]).code == 0
    flow.write_dag("inc.py", inc_dag(out, load=False))
    assert flow("tasks", "list", "inc", "--json").json()[-1]["task_id"] == "transform"

    old = flow("tasks", "states", "inc", rid(DAYS[0]), "--json")
    assert old.code == 0, old.err
    assert [(t["task_id"], t["state"]) for t in old.json()] == [
        ("extract", "success"), ("transform", "success"), ("load", "success")]
    by_date = flow("tasks", "states", "inc", DAYS[0], "--json")
    assert [t["task_id"] for t in by_date.json()] == ["extract", "transform", "load"]

    assert backfill(flow, "--start", DAYS[1], "--end", DAYS[1]).code == 0
    assert list(states(flow, rid(DAYS[1]))) == ["extract", "transform"]
    assert [r["state"] for r in runs(flow)] == ["success", "success"]


def test_depends_on_past_waits_for_the_previous_runs_task_and_explain_says_so(flow, out):
    """With depends_on_past=True, the day-2 transform waits while day 1's transform is failed
    (explain names depends_on_past; its extract may run); once day 1's transform is marked
    success, it is ready and the run completes."""
    flow.write_dag("inc.py", inc_dag(out, fail_on=(DAYS[0],), depends_on_past=True))
    assert backfill(flow, "--start", DAYS[0], "--end", DAYS[0]).code == 1  # the first run does not wait
    assert states(flow, rid(DAYS[0]))["transform"]["state"] == "failed"
    assert flow("pause", "inc").code == 0
    second = flow("trigger", "inc", "--logical-date", DAYS[1])
    assert second.code == 0, second.err
    run2 = second.out.strip()
    assert run2 == rid(DAYS[1], "manual")

    res = flow("explain", "inc", run2, "--json")
    assert res.code == 0, res.err
    why = {t["task_id"]: t["reason"] for t in res.json()["tasks"]}
    assert "depends_on_past" not in why["extract"]
    assert flow("tasks", "mark", "inc", run2, "extract", "--state", "success").code == 0
    why = {t["task_id"]: t["reason"] for t in flow("explain", "inc", run2, "--json").json()["tasks"]}
    assert "depends_on_past" in why["transform"] and "failed" in why["transform"], why

    assert flow("tasks", "mark", "inc", rid(DAYS[0]), "transform", "--state", "success").code == 0
    why = {t["task_id"]: t["reason"] for t in flow("explain", "inc", run2, "--json").json()["tasks"]}
    assert "depends_on_past" not in why["transform"], why
    assert "ready" in why["transform"], why

    (out / f"transform_{DAYS[0]}.txt").write_text("v1 by hand")
    assert until_idle(flow).code == 0
    assert {r["run_id"]: r["state"] for r in runs(flow)} == {rid(DAYS[0]): "success", run2: "success"}
    assert ran(out, DAYS[1]) == ["transform try 1", "load try 1"]
    assert states(flow, run2)["transform"]["try_number"] == 1
