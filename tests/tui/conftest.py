"""The TUI tests run in UTC with no notifications and no inherited FLOWCTL_* paths."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWCTL_TIMEZONE", "UTC")
    monkeypatch.setenv("FLOWCTL_NOTIFY_DESKTOP", "false")
    for key in ("FLOWCTL_HOME", "FLOWCTL_DAGS_FOLDER", "FLOWCTL_NOTIFY_WEBHOOK", "FLOWCTL_NOTIFY_COMMAND"):
        monkeypatch.delenv(key, raising=False)
