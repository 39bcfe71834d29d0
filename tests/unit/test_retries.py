"""Retry delays: Airflow's TaskInstance.next_retry_datetime formula."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowctl.engine.retries import MAX_RETRY_DELAY, next_retry_at, retry_delay_seconds

pytestmark = pytest.mark.timeout(30)

SEED = "events#fetch#2026-01-01T00:00:00+00:00"


# --- without backoff -----------------------------------------------------------


@pytest.mark.parametrize("try_number", [1, 2, 3, 10, 1000])
def test_without_backoff_the_delay_is_retry_delay(try_number: int):
    assert retry_delay_seconds(try_number, 300) == 300.0


def test_without_backoff_max_retry_delay_does_not_apply():
    # Airflow applies max_retry_delay only to the exponential backoff.
    assert retry_delay_seconds(3, 300, False, 60) == 300.0


def test_timedelta_is_accepted():
    assert retry_delay_seconds(1, timedelta(minutes=5)) == 300.0
    assert retry_delay_seconds(4, timedelta(seconds=10), True, timedelta(seconds=30)) == 30.0


# --- with backoff ----------------------------------------------------------------


@pytest.mark.parametrize("try_number", range(1, 12))
@pytest.mark.parametrize("seed", ["", "a", SEED, "dag#task#2026-03-29T02:30:00+02:00"])
def test_backoff_lies_in_doubling_jitter_window(try_number: int, seed: str):
    retry_delay = 10
    low = retry_delay * 2 ** (try_number - 1)
    delay = retry_delay_seconds(try_number, retry_delay, True, seed=seed)
    assert low <= delay < 2 * low
    assert delay == int(delay)  # whole seconds, as Airflow's integer arithmetic


def test_backoff_matches_airflow_arithmetic():
    for try_number in range(1, 10):
        min_backoff = 300 * 2 ** (try_number - 1)
        h = int(hashlib.sha1(f"{SEED}#{try_number}".encode()).hexdigest(), 16)
        expected = min(min_backoff + h % min_backoff, 86400)
        assert retry_delay_seconds(try_number, 300, True, seed=SEED) == expected


def test_worked_example_from_the_docstring():
    assert retry_delay_seconds(3, 300, True, seed=SEED) == 1922.0
    assert retry_delay_seconds(3, 300, True, 900, seed=SEED) == 900.0


def test_backoff_roughly_doubles_per_try():
    delays = [retry_delay_seconds(n, 60, True, seed=SEED) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        assert 60 * 2 ** (n - 1) <= delay < 60 * 2**n
    # windows do not overlap, so each delay is longer than the one before
    assert delays == sorted(delays)


def test_first_try_backoff_starts_at_retry_delay():
    assert 300 <= retry_delay_seconds(1, 300, True, seed=SEED) < 600


def test_deterministic_for_the_same_seed():
    first = [retry_delay_seconds(n, 7, True, seed=SEED) for n in range(1, 15)]
    second = [retry_delay_seconds(n, 7, True, seed=SEED) for n in range(1, 15)]
    assert first == second


def test_seeds_spread_the_jitter():
    delays = {retry_delay_seconds(5, 60, True, seed=f"dag#task{i}#2026-01-01") for i in range(50)}
    assert len(delays) > 10


def test_deterministic_across_processes():
    """hashlib, not hash(): another interpreter (another PYTHONHASHSEED) agrees."""
    code = (
        "from flowctl.engine.retries import retry_delay_seconds as r;"
        f"print([r(n, 7, True, seed={SEED!r}) for n in range(1, 15)])"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)},
        timeout=20,
    ).stdout
    assert out.strip() == str([retry_delay_seconds(n, 7, True, seed=SEED) for n in range(1, 15)])


def test_fractional_and_zero_retry_delay():
    # Airflow rounds min_backoff up and keeps it at least 1 second.
    assert retry_delay_seconds(1, 0.25, True, seed=SEED) == 1.0
    assert retry_delay_seconds(1, 0, True, seed=SEED) == 1.0
    assert retry_delay_seconds(1, 0, False) == 0.0


# --- caps ----------------------------------------------------------------------


def test_max_retry_delay_caps_the_backoff():
    assert retry_delay_seconds(10, 60, True, 3600, seed=SEED) == 3600.0
    # below the cap it changes nothing
    assert retry_delay_seconds(1, 60, True, 3600, seed=SEED) == retry_delay_seconds(
        1, 60, True, seed=SEED
    )


def test_zero_max_retry_delay_means_no_cap():
    # Airflow: `if self.task.max_retry_delay:` - a zero timedelta is no cap
    assert retry_delay_seconds(3, 60, True, 0, seed=SEED) == retry_delay_seconds(
        3, 60, True, seed=SEED
    )


def test_24h_cap_without_max_retry_delay():
    assert MAX_RETRY_DELAY == 86400
    assert retry_delay_seconds(20, 60, True, seed=SEED) == 86400.0
    assert retry_delay_seconds(20, 60, True, 10**9, seed=SEED) == 86400.0


@pytest.mark.parametrize("try_number", [1, 2, 5, 30])
def test_never_below_retry_delay(try_number: int):
    # a cap below retry_delay does not shorten it
    assert retry_delay_seconds(try_number, 600, True, 60, seed=SEED) == 600.0
    # nor does the 24 h cap shorten a retry_delay of two days
    two_days = 2 * 86400
    assert retry_delay_seconds(try_number, two_days, True, seed=SEED) == two_days


@pytest.mark.parametrize("retry_delay", [0.001, 1, 300, 86400, 10**6])
@pytest.mark.parametrize("try_number", [1000, 1025, 5000, 10**6])
def test_huge_try_numbers_do_not_overflow(try_number: int, retry_delay: float):
    delay = retry_delay_seconds(try_number, retry_delay, True, seed=SEED)
    assert delay == max(MAX_RETRY_DELAY, retry_delay)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    when = next_retry_at(start, try_number, retry_delay, True, seed=SEED)
    assert when == start + timedelta(seconds=delay)


def test_tiny_retry_delay_at_huge_try_numbers():
    # 1e-300 * 2**999 is only ~5 s: the exponent is not capped blindly
    assert 5 <= retry_delay_seconds(1000, 1e-300, True, seed=SEED) < 12
    assert retry_delay_seconds(2000, 1e-300, True, seed=SEED) == MAX_RETRY_DELAY
    assert retry_delay_seconds(10**9, 5e-324, True, seed=SEED) == MAX_RETRY_DELAY


def test_try_1000_with_cap():
    assert retry_delay_seconds(1000, 300, True, 7200, seed=SEED) == 7200.0


def test_near_the_24h_boundary():
    # 675 * 2**7 == 86400 exactly: the window starts at the cap
    assert retry_delay_seconds(8, 675, True, seed=SEED) == 86400.0
    # one try earlier the window [43200, 86400) is below the cap
    assert 43200 <= retry_delay_seconds(7, 675, True, seed=SEED) < 86400


# --- validation ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1])
def test_try_number_starts_at_one(bad: int):
    with pytest.raises(ValueError):
        retry_delay_seconds(bad, 300)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_bad_retry_delay(bad: float):
    with pytest.raises(ValueError):
        retry_delay_seconds(1, bad)


def test_wrong_types():
    with pytest.raises(TypeError):
        retry_delay_seconds(1.5, 300)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        retry_delay_seconds(1, "300")  # type: ignore[arg-type]


# --- next_retry_at -------------------------------------------------------------


def test_next_retry_at_adds_the_delay():
    end = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert next_retry_at(end, 1, 30) == datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def test_next_retry_at_with_backoff_uses_the_same_delay():
    end = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    when = next_retry_at(end, 3, 300, True, seed=SEED)
    assert when - end == timedelta(seconds=1922)
    assert when.tzinfo is UTC
