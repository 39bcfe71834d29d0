"""How long a failed task waits before its next try.

Pure functions, no I/O. The formula is Apache Airflow's
``TaskInstance.next_retry_datetime`` (``airflow/models/taskinstance.py``),
with ``MAX_RETRY_DELAY`` = Airflow's ``[core] max_task_retry_delay`` default
of 24 hours (``airflow/models/abstractoperator.py``).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

__all__ = ["MAX_RETRY_DELAY", "next_retry_at", "retry_delay_seconds"]

MAX_RETRY_DELAY: float = 24 * 60 * 60.0
"""The longest exponential-backoff delay in seconds, as Airflow's default (24 h)."""


def _seconds(value: float | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or a timedelta, not {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return value


def _jitter_hash(seed: str, try_number: int) -> int:
    """A stable integer from the seed and the try number (sha1, as Airflow)."""
    return int(hashlib.sha1(f"{seed}#{try_number}".encode()).hexdigest(), 16)


def retry_delay_seconds(
    try_number: int,
    retry_delay: float | timedelta,
    exponential_backoff: bool = False,
    max_retry_delay: float | timedelta | None = None,
    *,
    seed: str = "",
) -> float:
    """Seconds to wait after try ``try_number`` failed, before the next try.

    ``try_number`` is the number of the try that just failed (1 = the first
    try). ``retry_delay`` and ``max_retry_delay`` are seconds (or timedeltas).

    Without ``exponential_backoff`` the delay is ``retry_delay``, whatever the
    try number (``max_retry_delay`` only caps a backoff, as in Airflow).

    With ``exponential_backoff`` (Airflow's formula):

    1. ``min_backoff = ceil(retry_delay * 2 ** (try_number - 1))``, at least 1:
       the delay doubles with each try.
    2. Deterministic jitter: ``h = int(sha1(f"{seed}#{try_number}"), 16)`` and
       ``delay = min_backoff + h % min_backoff``, a whole number of seconds in
       ``[min_backoff, 2 * min_backoff)``. The same seed and try number always
       give the same delay, in any process. Airflow hashes
       ``f"{dag_id}#{task_id}#{logical_date}#{try_number}"``; pass
       ``seed=f"{dag_id}#{task_id}#{logical_date}"`` for the same string.
    3. ``delay = min(delay, MAX_RETRY_DELAY)`` (24 h), so no try number
       overflows; then ``delay = min(delay, max_retry_delay)`` if given.
    4. Never shorter than ``retry_delay`` (flowctl's rule: Airflow would let a
       ``max_retry_delay`` or the 24 h cap below ``retry_delay`` win).

    Worked example: ``retry_delay=300`` (5 min), backoff on, the third try
    failed, ``seed="events#fetch#2026-01-01T00:00:00+00:00"``:
    ``min_backoff = 300 * 2 ** 2 = 1200``; the hash gives ``h % 1200 == 722``,
    so the delay is ``1200 + 722 = 1922`` s (32 min 2 s), within [1200, 2400).
    The first try's failure would give [300, 600), the second's [600, 1200).
    With ``max_retry_delay=900`` it is 900 s. At try 1000 ``min_backoff`` is
    astronomically large, so the delay is the 24 h cap (86400 s).
    """
    if isinstance(try_number, bool) or not isinstance(try_number, int):
        raise TypeError(f"try_number must be an int, not {try_number!r}")
    if try_number < 1:
        raise ValueError(f"try_number must be >= 1 (1 is the first try), not {try_number}")
    base = _seconds(retry_delay, "retry_delay")
    cap = _seconds(max_retry_delay, "max_retry_delay")
    assert base is not None

    if not exponential_backoff:
        return base

    exponent = try_number - 1
    # base * 2**exponent would overflow a float for large try numbers (Airflow's
    # own code raises past ~try 1025). Once base * 2**exponent reaches
    # MAX_RETRY_DELAY the result is the cap whatever the jitter, so stop there.
    if base > 0 and exponent > math.log2(MAX_RETRY_DELAY) - math.log2(base) + 1:
        delay = MAX_RETRY_DELAY
    else:
        # here base * 2**exponent <= 2 * MAX_RETRY_DELAY (or base is 0): no overflow
        min_backoff = max(1, math.ceil(math.ldexp(base, exponent)))
        modded = min_backoff + _jitter_hash(seed, try_number) % min_backoff
        delay = min(float(modded), MAX_RETRY_DELAY)
    if cap:  # as Airflow's `if self.task.max_retry_delay:` (0 means no cap)
        delay = min(delay, cap)
    return max(delay, base)


def next_retry_at(
    end_date: datetime,
    try_number: int,
    retry_delay: float | timedelta,
    exponential_backoff: bool = False,
    max_retry_delay: float | timedelta | None = None,
    *,
    seed: str = "",
) -> datetime:
    """When the next try may start: ``end_date`` (the failed try's end) plus the delay.

    The delay is :func:`retry_delay_seconds` with the same arguments; the
    result keeps ``end_date``'s time zone. Example: a try that ended at
    12:00:00 with ``retry_delay=30`` and no backoff may be retried from 12:00:30.
    """
    delay = retry_delay_seconds(
        try_number,
        retry_delay,
        exponential_backoff,
        max_retry_delay,
        seed=seed,
    )
    return end_date + timedelta(seconds=delay)
