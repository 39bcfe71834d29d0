"""Trigger rules: may a task run, given the states of its direct upstream tasks?

Pure functions, no I/O. The decisions mirror Apache Airflow's
``airflow/ti_deps/deps/trigger_rule_dep.py`` (``TriggerRuleDep._evaluate_direct_relatives``,
with ``flag_upstream_failed=True`` as the scheduler uses it), leaving out what
flowctl does not have: mapped tasks and the ``removed`` state.

Like Airflow, the evaluation counts the *finished* upstream task instances by
state (``success``, ``skipped``, ``failed``, ``upstream_failed``; ``failed`` and
``upstream_failed`` counted separately) and compares them with the number of
upstream tasks. Everything not in :data:`flowctl.states.FINISHED` is unfinished.

Each rule may decide before every upstream has finished ("early"), and a
rule that can never be met makes the task skipped or upstream_failed:

- all_success: upstream_failed as soon as one upstream is failed or
  upstream_failed; else skipped as soon as one is skipped.
- all_failed: skipped as soon as one upstream succeeded or was skipped.
- all_done: never decides early; always met once all are finished.
- all_done_min_one_success (Airflow 3.1): skipped as soon as one upstream was
  skipped; upstream_failed when all are done and none succeeded.
- all_skipped: skipped as soon as one upstream succeeded, failed or is
  upstream_failed.
- one_success: runs as soon as one upstream succeeded; when all are done
  without a success: skipped if all were skipped, else upstream_failed.
- one_failed: runs as soon as one upstream is failed or upstream_failed;
  skipped when all are done without one.
- one_done: runs as soon as one upstream succeeded or failed (upstream_failed
  and skipped do not count); skipped when all are done without one.
- none_failed: upstream_failed as soon as one upstream is failed or
  upstream_failed.
- none_failed_min_one_success: upstream_failed as soon as one upstream is
  failed or upstream_failed; skipped when all were skipped.
- none_skipped: skipped as soon as one upstream was skipped.
- always: runs at once.
- all_done_setup_success (a teardown's rule, set by ``as_teardown``): waits until
  every upstream is done; then, when some upstream is a setup, skipped if every
  setup was skipped, upstream_failed if none succeeded, else it runs: a teardown
  runs when its setup ran, whatever happened to the work in between.

A task with no upstream task passes under every rule (Airflow: "The task
instance did not have any upstream tasks").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from flowctl.states import FINISHED, TaskState

__all__ = [
    "Decision",
    "TriggerRule",
    "Verdict",
    "evaluate",
    "parse_trigger_rule",
]


class TriggerRule(StrEnum):
    """The twelve trigger rules, with Airflow's names and meanings."""

    ALL_SUCCESS = "all_success"  #: every upstream succeeded (the default)
    ALL_FAILED = "all_failed"  #: every upstream is failed or upstream_failed
    ALL_DONE = "all_done"  #: every upstream finished, in any state
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"  #: all done, none skipped, one succeeded
    ALL_SKIPPED = "all_skipped"  #: every upstream was skipped
    ONE_SUCCESS = "one_success"  #: at least one upstream succeeded (does not wait for the rest)
    ONE_FAILED = "one_failed"  #: at least one upstream failed (does not wait for the rest)
    ONE_DONE = "one_done"  #: at least one upstream succeeded or failed (does not wait)
    NONE_FAILED = "none_failed"  #: every upstream succeeded or was skipped
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"  #: none failed, one succeeded
    NONE_SKIPPED = "none_skipped"  #: every upstream finished and none was skipped
    ALWAYS = "always"  #: no dependency at all
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"  #: a teardown's: all done, and a setup upstream succeeded

    @classmethod
    def all_triggers(cls) -> set[str]:
        """All rule names (as Airflow's ``TriggerRule.all_triggers``)."""
        return {rule.value for rule in cls}

    @classmethod
    def is_valid(cls, name: object) -> bool:
        """Whether ``name`` is a trigger rule's name (as Airflow's ``TriggerRule.is_valid``)."""
        return isinstance(name, str) and name in cls.all_triggers()


class Verdict(StrEnum):
    RUN = "run"  #: the rule is met: the task may be scheduled
    WAIT = "wait"  #: not decided yet: some upstream has not finished
    SKIP = "skip"  #: the rule can never be met; the task becomes skipped
    UPSTREAM_FAILED = "upstream_failed"  #: the rule can never be met because of failures


@dataclass(frozen=True)
class Decision:
    """A rule's verdict and one human sentence saying why (for ``flowctl explain``)."""

    verdict: Verdict
    reason: str

    @property
    def final_state(self) -> TaskState | None:
        """The state the task takes now: skipped / upstream_failed, or None (run or wait)."""
        if self.verdict is Verdict.SKIP:
            return TaskState.SKIPPED
        if self.verdict is Verdict.UPSTREAM_FAILED:
            return TaskState.UPSTREAM_FAILED
        return None


# Rule names Airflow 2 deprecated (and Airflow 3 removed); named in the error message only.
_RENAMED = {
    "none_failed_or_skipped": TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    "dummy": TriggerRule.ALWAYS,
}


def parse_trigger_rule(rule: str | TriggerRule) -> TriggerRule:
    """The :class:`TriggerRule` named by ``rule``.

    Raises ValueError for an unknown name, listing the valid ones, and TypeError
    for something that is not a string.
    """
    if isinstance(rule, TriggerRule):
        return rule
    if not isinstance(rule, str):
        raise TypeError(f"trigger rule must be a string, not {type(rule).__name__}")
    try:
        return TriggerRule(rule)
    except ValueError:
        valid = ", ".join(r.value for r in TriggerRule)
        hint = ""
        if rule in _RENAMED:
            hint = f" ({rule!r} was renamed to {_RENAMED[rule].value!r})"
        raise ValueError(f"unknown trigger rule {rule!r}{hint}; valid rules: {valid}") from None


def _parse_state(task_id: str, state: TaskState | str) -> TaskState:
    if isinstance(state, TaskState):
        return state
    try:
        return TaskState(state)
    except ValueError:
        valid = ", ".join(s.value for s in TaskState)
        raise ValueError(
            f"upstream task {task_id!r} has unknown state {state!r}; valid states: {valid}"
        ) from None


# --- wording -----------------------------------------------------------------

_MAX_NAMED = 5


def _names(ids: list[str], quote: bool = True) -> str:
    """Quoted: 'a', 'b' and 'c'; unquoted: a, b, c (at most five, then "and N more")."""
    shown = [f"'{i}'" if quote else i for i in ids[:_MAX_NAMED]]
    rest = len(ids) - len(shown)
    if rest:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) == 1 or not quote:
        return ", ".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


_VERBS = {
    # state: (singular, plural)
    TaskState.SUCCESS: ("succeeded", "succeeded"),
    TaskState.FAILED: ("failed", "failed"),
    TaskState.SKIPPED: ("was skipped", "were skipped"),
    TaskState.UPSTREAM_FAILED: ("is upstream_failed", "are upstream_failed"),
}


class _Upstream:
    """The upstream task ids grouped by state, in the mapping's order."""

    def __init__(self, states: Mapping[str, TaskState], setups: frozenset[str] = frozenset()) -> None:
        self.setups = [t for t in states if t in setups]
        self.total = len(states)
        self.by_state: dict[TaskState, list[str]] = {}
        self.unfinished: list[str] = []
        for task_id, state in states.items():
            if state in FINISHED:
                self.by_state.setdefault(state, []).append(task_id)
            else:
                self.unfinished.append(task_id)

    def ids(self, state: TaskState) -> list[str]:
        return self.by_state.get(state, [])

    @property
    def success(self) -> int:
        return len(self.ids(TaskState.SUCCESS))

    @property
    def skipped(self) -> int:
        return len(self.ids(TaskState.SKIPPED))

    @property
    def failed(self) -> int:
        return len(self.ids(TaskState.FAILED))

    @property
    def upstream_failed(self) -> int:
        return len(self.ids(TaskState.UPSTREAM_FAILED))

    @property
    def done(self) -> int:
        return self.total - len(self.unfinished)

    def said(self, *states: TaskState) -> str:
        """e.g. "upstream 'a' and 'b' failed, 'c' is upstream_failed"."""
        parts = []
        for state in states:
            ids = self.ids(state)
            if ids:
                singular, plural = _VERBS[state]
                parts.append(f"{_names(ids)} {singular if len(ids) == 1 else plural}")
        return "upstream " + ", ".join(parts)

    def waiting(self) -> str:
        """e.g. "waiting for 2 of 3 upstream tasks (extract, load)"."""
        return (
            f"waiting for {len(self.unfinished)} of {self.total} upstream tasks "
            f"({_names(self.unfinished, quote=False)})"
        )

    def finished_summary(self) -> str:
        """e.g. "1 succeeded, 2 failed" over the finished upstreams."""
        parts = []
        for state, label in (
            (TaskState.SUCCESS, "succeeded"),
            (TaskState.FAILED, "failed"),
            (TaskState.UPSTREAM_FAILED, "upstream_failed"),
            (TaskState.SKIPPED, "skipped"),
        ):
            n = len(self.ids(state))
            if n:
                parts.append(f"{n} {label}")
        return ", ".join(parts)


# --- the rules -----------------------------------------------------------------

_S, _F, _UF, _K = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.UPSTREAM_FAILED,
    TaskState.SKIPPED,
)


def _all_success(u: _Upstream) -> tuple[Verdict, str]:
    if u.failed or u.upstream_failed:
        return Verdict.UPSTREAM_FAILED, u.said(_F, _UF)
    if u.skipped:
        return Verdict.SKIP, u.said(_K)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"all {u.total} upstream tasks succeeded"


def _all_failed(u: _Upstream) -> tuple[Verdict, str]:
    if u.success or u.skipped:
        return Verdict.SKIP, u.said(_S, _K)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"all {u.total} upstream tasks failed ({u.finished_summary()})"


def _all_done(u: _Upstream) -> tuple[Verdict, str]:
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"all {u.total} upstream tasks are done ({u.finished_summary()})"


def _all_done_min_one_success(u: _Upstream) -> tuple[Verdict, str]:
    # Airflow: "For this trigger rule, skipped tasks are not considered done":
    # one skipped upstream skips the task at once.
    if u.skipped:
        return Verdict.SKIP, u.said(_K)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    if not u.success:
        return (
            Verdict.UPSTREAM_FAILED,
            f"all {u.total} upstream tasks are done but none succeeded ({u.finished_summary()})",
        )
    return (
        Verdict.RUN,
        f"all {u.total} upstream tasks are done, none skipped ({u.finished_summary()})",
    )


def _all_skipped(u: _Upstream) -> tuple[Verdict, str]:
    if u.success or u.failed or u.upstream_failed:
        return Verdict.SKIP, u.said(_S, _F, _UF)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"all {u.total} upstream tasks were skipped"


def _one_success(u: _Upstream) -> tuple[Verdict, str]:
    if u.success:
        return Verdict.RUN, u.said(_S)
    if u.unfinished:
        return Verdict.WAIT, "no upstream task has succeeded yet; " + u.waiting()
    if u.skipped == u.done:
        return Verdict.SKIP, f"all {u.total} upstream tasks were skipped, none succeeded"
    return Verdict.UPSTREAM_FAILED, f"no upstream task succeeded ({u.finished_summary()})"


def _one_failed(u: _Upstream) -> tuple[Verdict, str]:
    if u.failed or u.upstream_failed:
        return Verdict.RUN, u.said(_F, _UF)
    if u.unfinished:
        return Verdict.WAIT, "no upstream task has failed yet; " + u.waiting()
    return Verdict.SKIP, f"no upstream task failed ({u.finished_summary()})"


def _one_done(u: _Upstream) -> tuple[Verdict, str]:
    # Airflow counts only success and failed here: upstream_failed and skipped do not count.
    if u.success or u.failed:
        return Verdict.RUN, u.said(_S, _F)
    if u.unfinished:
        return Verdict.WAIT, "no upstream task has succeeded or failed yet; " + u.waiting()
    return Verdict.SKIP, f"no upstream task succeeded or failed ({u.finished_summary()})"


def _none_failed(u: _Upstream) -> tuple[Verdict, str]:
    if u.failed or u.upstream_failed:
        return Verdict.UPSTREAM_FAILED, u.said(_F, _UF)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"no upstream task failed ({u.finished_summary()})"


def _none_failed_min_one_success(u: _Upstream) -> tuple[Verdict, str]:
    if u.failed or u.upstream_failed:
        return Verdict.UPSTREAM_FAILED, u.said(_F, _UF)
    if u.skipped == u.total:
        return Verdict.SKIP, f"all {u.total} upstream tasks were skipped, none succeeded"
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return (
        Verdict.RUN,
        f"no upstream task failed and one succeeded ({u.finished_summary()})",
    )


def _none_skipped(u: _Upstream) -> tuple[Verdict, str]:
    if u.skipped:
        return Verdict.SKIP, u.said(_K)
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    return Verdict.RUN, f"all {u.total} upstream tasks are done and none was skipped"


def _always(u: _Upstream) -> tuple[Verdict, str]:
    return Verdict.RUN, "runs whatever the upstream states"


def _all_done_setup_success(u: _Upstream) -> tuple[Verdict, str]:
    if u.unfinished:
        return Verdict.WAIT, u.waiting()
    if u.setups:
        ran = [t for t in u.setups if t in u.ids(TaskState.SUCCESS)]
        skipped = [t for t in u.setups if t in u.ids(TaskState.SKIPPED)]
        if len(skipped) == len(u.setups):
            return Verdict.SKIP, f"every setup upstream ({_names(u.setups)}) was skipped"
        if not ran:
            return Verdict.UPSTREAM_FAILED, f"no setup upstream ({_names(u.setups)}) succeeded"
        return Verdict.RUN, f"all {u.total} upstream tasks are done and setup {_names(ran)} succeeded"
    return Verdict.RUN, f"all {u.total} upstream tasks are done ({u.finished_summary()})"


_RULES = {
    TriggerRule.ALL_SUCCESS: _all_success,
    TriggerRule.ALL_FAILED: _all_failed,
    TriggerRule.ALL_DONE: _all_done,
    TriggerRule.ALL_DONE_MIN_ONE_SUCCESS: _all_done_min_one_success,
    TriggerRule.ALL_SKIPPED: _all_skipped,
    TriggerRule.ONE_SUCCESS: _one_success,
    TriggerRule.ONE_FAILED: _one_failed,
    TriggerRule.ONE_DONE: _one_done,
    TriggerRule.NONE_FAILED: _none_failed,
    TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    TriggerRule.NONE_SKIPPED: _none_skipped,
    TriggerRule.ALWAYS: _always,
    TriggerRule.ALL_DONE_SETUP_SUCCESS: _all_done_setup_success,
}
assert set(_RULES) == set(TriggerRule)


def evaluate(rule: str | TriggerRule, upstream: Mapping[str, TaskState | str],
             setups: frozenset[str] | set[str] = frozenset()) -> Decision:
    """Decide whether a task with trigger rule ``rule`` may run now.

    ``upstream`` maps each direct upstream task id to its current state (a
    :class:`~flowctl.states.TaskState` or its string value). The verdict is
    RUN (schedule it), WAIT (ask again when an upstream changes), SKIP or
    UPSTREAM_FAILED (the rule can never be met; set the task to that state).
    The reason is one sentence starting with the rule's name. `setups` names
    the upstream tasks that are setup tasks (for all_done_setup_success).

    >>> evaluate("all_success", {"extract": "success", "load": "running"}).verdict
    <Verdict.WAIT: 'wait'>
    >>> evaluate("all_success", {"extract": "failed", "load": "running"}).reason
    "all_success: upstream 'extract' failed"
    """
    tr = parse_trigger_rule(rule)
    states = {task_id: _parse_state(task_id, s) for task_id, s in upstream.items()}
    if not states:
        return Decision(Verdict.RUN, f"{tr.value}: the task has no upstream tasks")
    verdict, why = _RULES[tr](_Upstream(states, frozenset(setups)))
    return Decision(verdict, f"{tr.value}: {why}")
