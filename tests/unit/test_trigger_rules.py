"""Trigger rules against Airflow's decisions (airflow/ti_deps/deps/trigger_rule_dep.py)."""

from __future__ import annotations

import pytest

from flowctl.states import TaskState
from flowctl.trigger_rules import Decision, TriggerRule, Verdict, evaluate, parse_trigger_rule

pytestmark = pytest.mark.timeout(30)

RUN, WAIT, SKIP, UF = Verdict.RUN, Verdict.WAIT, Verdict.SKIP, Verdict.UPSTREAM_FAILED

# Short names for upstream states in the table below.
_ABBR = {
    "S": "success",
    "F": "failed",
    "K": "skipped",
    "U": "upstream_failed",
    "R": "running",
    "N": "none",
    "Q": "queued",
    "Y": "up_for_retry",
}


def ups(spec: str) -> dict[str, str]:
    """'S F R' -> {'t0': 'success', 't1': 'failed', 't2': 'running'}."""
    return {f"t{i}": _ABBR[code] for i, code in enumerate(spec.split())}


def row(rule: str, spec: str, expected: Verdict, note: str = ""):
    ident = f"{rule}[{spec or 'no-upstream'}]{'-' + note if note else ''}"
    return pytest.param(rule, ups(spec), expected, id=ident)


TABLE = [
    # all_success: every upstream succeeded. Early: upstream_failed on a failure,
    # skipped on a skip (failure wins over skip).
    row("all_success", "", RUN),
    row("all_success", "S S S", RUN),
    row("all_success", "S R", WAIT),
    row("all_success", "S N", WAIT),
    row("all_success", "F R", UF, "early"),
    row("all_success", "U N", UF, "early"),
    row("all_success", "K R", SKIP, "early"),
    row("all_success", "S K", SKIP),
    row("all_success", "K F", UF, "failure-beats-skip"),
    row("all_success", "S Y", WAIT, "retrying"),
    # all_failed: every upstream failed or upstream_failed. Early skip on a success or skip.
    row("all_failed", "", RUN),
    row("all_failed", "F F", RUN),
    row("all_failed", "F U", RUN),
    row("all_failed", "F R", WAIT),
    row("all_failed", "S R", SKIP, "early"),
    row("all_failed", "K N", SKIP, "early"),
    row("all_failed", "F S", SKIP),
    # all_done: every upstream finished, any state. Never decides early.
    row("all_done", "", RUN),
    row("all_done", "S F K U", RUN),
    row("all_done", "F F", RUN),
    row("all_done", "K K", RUN),
    row("all_done", "F R", WAIT),
    row("all_done", "S N", WAIT),
    row("all_done", "S Q", WAIT),
    # all_done_min_one_success (Airflow 3.1): a skipped upstream skips at once;
    # all done with no success is upstream_failed.
    row("all_done_min_one_success", "", RUN),
    row("all_done_min_one_success", "S F", RUN),
    row("all_done_min_one_success", "S U", RUN),
    row("all_done_min_one_success", "S S", RUN),
    row("all_done_min_one_success", "S R", WAIT),
    row("all_done_min_one_success", "F N", WAIT),
    row("all_done_min_one_success", "K R", SKIP, "early"),
    row("all_done_min_one_success", "S K", SKIP),
    row("all_done_min_one_success", "F U", UF),
    row("all_done_min_one_success", "F F", UF),
    # all_skipped: every upstream was skipped. Early skip on anything else finished.
    row("all_skipped", "", RUN),
    row("all_skipped", "K K", RUN),
    row("all_skipped", "K R", WAIT),
    row("all_skipped", "S R", SKIP, "early"),
    row("all_skipped", "F N", SKIP, "early"),
    row("all_skipped", "U K", SKIP),
    # one_success: runs on the first success; all done without one: skipped if
    # all were skipped, else upstream_failed.
    row("one_success", "", RUN),
    row("one_success", "S R", RUN, "early"),
    row("one_success", "F S N", RUN, "early"),
    row("one_success", "F R", WAIT),
    row("one_success", "K N", WAIT),
    row("one_success", "K K", SKIP),
    row("one_success", "F K", UF),
    row("one_success", "U U", UF),
    row("one_success", "F F", UF),
    # one_failed: runs on the first failed or upstream_failed; else skipped when done.
    row("one_failed", "", RUN),
    row("one_failed", "F R", RUN, "early"),
    row("one_failed", "U N", RUN, "early"),
    row("one_failed", "S R", WAIT),
    row("one_failed", "S S", SKIP),
    row("one_failed", "S K", SKIP),
    row("one_failed", "K K", SKIP),
    # one_done: runs on the first success or failed (upstream_failed and skipped
    # do not count); skipped when all are done without one.
    row("one_done", "", RUN),
    row("one_done", "S R", RUN, "early"),
    row("one_done", "F N", RUN, "early"),
    row("one_done", "K R", WAIT),
    row("one_done", "U N", WAIT),
    row("one_done", "K K", SKIP),
    row("one_done", "U U", SKIP),
    row("one_done", "U K", SKIP),
    # none_failed: all succeeded or were skipped. Early upstream_failed on a failure.
    row("none_failed", "", RUN),
    row("none_failed", "S K", RUN),
    row("none_failed", "K K", RUN),
    row("none_failed", "S S", RUN),
    row("none_failed", "S R", WAIT),
    row("none_failed", "F R", UF, "early"),
    row("none_failed", "U N", UF, "early"),
    # none_failed_min_one_success: none failed and one succeeded; all skipped is skipped.
    row("none_failed_min_one_success", "", RUN),
    row("none_failed_min_one_success", "S K", RUN),
    row("none_failed_min_one_success", "S S", RUN),
    row("none_failed_min_one_success", "S R", WAIT),
    row("none_failed_min_one_success", "K R", WAIT),
    row("none_failed_min_one_success", "K K", SKIP),
    row("none_failed_min_one_success", "F R", UF, "early"),
    row("none_failed_min_one_success", "U K", UF, "early"),
    # none_skipped: all finished and none skipped. Early skip on a skip.
    row("none_skipped", "", RUN),
    row("none_skipped", "S F", RUN),
    row("none_skipped", "U F", RUN),
    row("none_skipped", "S R", WAIT),
    row("none_skipped", "F N", WAIT),
    row("none_skipped", "K R", SKIP, "early"),
    row("none_skipped", "S K", SKIP),
    # always: runs at once.
    row("always", "", RUN),
    row("always", "R N", RUN),
    row("always", "F U", RUN),
    row("always", "K K", RUN),
    row("always", "S F", RUN),
    # all_done_setup_success (a teardown's): all done; with no setup upstream, like all_done.
    row("all_done_setup_success", "", RUN),
    row("all_done_setup_success", "S F", RUN),
    row("all_done_setup_success", "S R", WAIT),
    row("all_done_setup_success", "U K", RUN),
    row("all_done_setup_success", "F N", WAIT),
]


@pytest.mark.parametrize(("rule", "upstream_states", "expected_verdict"), TABLE)
def test_truth_table(rule: str, upstream_states: dict[str, str], expected_verdict: Verdict):
    decision = evaluate(rule, upstream_states)
    assert isinstance(decision, Decision)
    assert decision.verdict is expected_verdict, decision.reason
    assert decision.reason.strip()
    assert decision.reason.startswith(f"{rule}: ")


def test_table_covers_every_rule_at_least_five_times():
    counts = {r.value: 0 for r in TriggerRule}
    for param in TABLE:
        counts[param.values[0]] += 1
    assert all(n >= 5 for n in counts.values()), counts


def test_there_are_thirteen_rules_with_airflow_names():
    assert TriggerRule.all_triggers() == {
        "all_success",
        "all_failed",
        "all_done",
        "all_done_min_one_success",
        "all_skipped",
        "one_success",
        "one_failed",
        "one_done",
        "none_failed",
        "none_failed_min_one_success",
        "none_skipped",
        "always",
        "all_done_setup_success",
    }


@pytest.mark.parametrize("states, setups, expected", [
    pytest.param({"setup": "success", "work": "failed"}, {"setup"}, RUN, id="setup-ran-work-failed"),
    pytest.param({"setup": "failed", "work": "upstream_failed"}, {"setup"}, UF, id="setup-failed"),
    pytest.param({"setup": "skipped", "work": "skipped"}, {"setup"}, SKIP, id="setup-skipped"),
    pytest.param({"a": "skipped", "b": "success", "work": "success"}, {"a", "b"}, RUN, id="one-of-two-setups-ran"),
    pytest.param({"setup": "success", "work": "running"}, {"setup"}, WAIT, id="work-still-going"),
])
def test_a_teardown_runs_when_its_setup_ran(states, setups, expected):
    """Airflow's all_done_setup_success: all upstream done, then decided by the setups among them."""
    decision = evaluate("all_done_setup_success", states, setups=setups)
    assert decision.verdict is expected, decision.reason


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_no_upstream_runs_under_every_rule(rule: TriggerRule):
    decision = evaluate(rule, {})
    assert decision.verdict is Verdict.RUN
    assert decision.reason.startswith(rule.value)


@pytest.mark.parametrize(
    "unfinished", ["none", "scheduled", "queued", "running", "up_for_retry", "up_for_reschedule"]
)
def test_every_unfinished_state_makes_all_success_wait(unfinished: str):
    assert evaluate("all_success", {"a": "success", "b": unfinished}).verdict is Verdict.WAIT


def test_accepts_enums_and_strings_alike():
    by_enum = evaluate(TriggerRule.ALL_SUCCESS, {"a": TaskState.SUCCESS, "b": TaskState.RUNNING})
    by_str = evaluate("all_success", {"a": "success", "b": "running"})
    assert by_enum == by_str


def test_unknown_rule_raises_listing_valid_names():
    with pytest.raises(ValueError) as info:
        evaluate("all_sucess", {"a": "success"})
    message = str(info.value)
    assert "all_sucess" in message
    for rule in TriggerRule:
        assert rule.value in message


def test_deprecated_airflow_names_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="none_failed_min_one_success"):
        parse_trigger_rule("none_failed_or_skipped")
    with pytest.raises(ValueError, match="always"):
        parse_trigger_rule("dummy")


def test_non_string_rule_is_a_type_error():
    with pytest.raises(TypeError):
        parse_trigger_rule(3)  # type: ignore[arg-type]


def test_unknown_upstream_state_raises():
    with pytest.raises(ValueError, match="'a'.*bogus"):
        evaluate("all_success", {"a": "bogus"})


def test_is_valid():
    assert TriggerRule.is_valid("one_done")
    assert not TriggerRule.is_valid("one_don")
    assert not TriggerRule.is_valid(None)


# --- reasons -----------------------------------------------------------------


def test_reason_names_the_waiting_tasks():
    decision = evaluate(
        "all_success", {"extract": "running", "transform": "success", "load": "none"}
    )
    assert decision.verdict is Verdict.WAIT
    assert decision.reason == "all_success: waiting for 2 of 3 upstream tasks (extract, load)"


def test_reason_names_the_failed_task():
    decision = evaluate("all_success", {"extract": "failed", "load": "running"})
    assert decision.reason == "all_success: upstream 'extract' failed"


def test_reason_groups_several_states():
    decision = evaluate("none_failed", {"a": "failed", "b": "failed", "c": "upstream_failed"})
    assert decision.verdict is Verdict.UPSTREAM_FAILED
    assert decision.reason == "none_failed: upstream 'a' and 'b' failed, 'c' is upstream_failed"


def test_reason_shortens_long_lists():
    upstream = {f"task_{i}": "running" for i in range(8)}
    reason = evaluate("all_done", upstream).reason
    assert "and 3 more" in reason
    assert "task_0" in reason and "task_7" not in reason


def test_final_state():
    assert evaluate("all_success", {"a": "skipped"}).final_state is TaskState.SKIPPED
    assert evaluate("all_success", {"a": "failed"}).final_state is TaskState.UPSTREAM_FAILED
    assert evaluate("all_success", {"a": "success"}).final_state is None
    assert evaluate("all_success", {"a": "running"}).final_state is None


# --- properties over every mix of up to three upstreams ----------------------

_ALL_STATES = [s.value for s in TaskState]


def _mixes(n: int):
    if n == 0:
        yield ()
        return
    for rest in _mixes(n - 1):
        for s in _ALL_STATES:
            yield (*rest, s)


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_decision_is_monotone_in_progress(rule: TriggerRule):
    """An early decision is never contradicted when the other upstreams finish.

    For every mix of up to three upstream states: an early RUN stays RUN once
    all upstreams are finished, whatever they end in; an early SKIP or
    UPSTREAM_FAILED never becomes RUN (the exact final state may differ, e.g.
    all_success skips on a skip before a later failure, as Airflow does); and
    once all upstreams are finished the verdict is never WAIT.
    """
    finished = ["success", "failed", "skipped", "upstream_failed"]
    for n in range(1, 4):
        for mix in _mixes(n):
            upstream = {f"t{i}": s for i, s in enumerate(mix)}
            verdict = evaluate(rule, upstream).verdict
            open_ids = [k for k, s in upstream.items() if s not in finished]
            if not open_ids:
                assert verdict is not Verdict.WAIT, (rule, mix)
                continue
            if verdict is Verdict.WAIT:
                continue
            for ends in _finished_mixes(len(open_ids), finished):
                done = dict(upstream, **dict(zip(open_ids, ends, strict=True)))
                final = evaluate(rule, done).verdict
                assert (final is Verdict.RUN) == (verdict is Verdict.RUN), (rule, mix, ends)


def _finished_mixes(n: int, finished: list[str]):
    if n == 0:
        yield ()
        return
    for rest in _finished_mixes(n - 1, finished):
        for s in finished:
            yield (*rest, s)
