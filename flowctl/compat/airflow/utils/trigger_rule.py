"""airflow.utils.trigger_rule: TriggerRule, with Airflow 2's deprecated names."""

from __future__ import annotations

from enum import StrEnum


class TriggerRule(StrEnum):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"
    NONE_FAILED_OR_SKIPPED = "none_failed_or_skipped"  # Airflow 2's old name of none_failed_min_one_success
    DUMMY = "dummy"  # Airflow 2's old name of always

    @classmethod
    def is_valid(cls, trigger_rule: str) -> bool:
        return trigger_rule in cls.all_triggers()

    @classmethod
    def all_triggers(cls) -> set[str]:
        return {rule.value for rule in cls}

__all__ = ['TriggerRule']
