"""Shared fixtures: the real `flowctl` command in a temporary home and DAG folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Flow:
    """Runs `python -m flowctl` with FLOWCTL_HOME and FLOWCTL_DAGS_FOLDER in tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.dags = root / "dags"
        self.dags.mkdir()
        self.env = {
            **os.environ,
            "FLOWCTL_HOME": str(self.home),
            "FLOWCTL_DAGS_FOLDER": str(self.dags),
            "FLOWCTL_WORKERS": "2",
            "FLOWCTL_TIMEZONE": "UTC",
            "FLOWCTL_NOTIFY_DESKTOP": "false",
            "COLUMNS": "200",
        }
        for key in ("FLOWCTL_NOTIFY_WEBHOOK", "FLOWCTL_NOTIFY_COMMAND", "FLOWCTL_EXECUTOR"):
            self.env.pop(key, None)

    def write_dag(self, name: str, source: str) -> Path:
        path = self.dags / name
        path.write_text(textwrap.dedent(source))
        return path

    def __call__(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None,
                 input: str | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "flowctl", *args],
            capture_output=True, text=True, timeout=timeout, cwd=self.root,
            env={**self.env, **(env or {})}, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "flowctl", *args], cwd=self.root,
            env={**self.env, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )

    def state_files(self) -> dict[str, bytes]:
        """Every state file's bytes, to prove a refused command changed nothing."""
        state = self.home / "state"
        if not state.exists():
            return {}
        return {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*"))
                if p.is_file() and p.name not in (".lock",)}


@pytest.fixture
def flow(tmp_path: Path) -> Flow:
    return Flow(tmp_path)
