"""The README's tour works as written, from a fresh clone.

Every `flowctl` command in the bash blocks of the tour's sections (the tour
itself, schedules, the scheduler, backfill and clearing) runs, in the order
the README gives them, in a temporary copy of the repository's
`flowctl.toml` and `sample_dags/` (so the settings come from `flowctl.toml`,
as in a clone) and must succeed. Two are left out because they do not return
by themselves: `flowctl scheduler` in the foreground (it runs until Ctrl-C;
its `--daemon`, `status`, `stop` and `--until-idle` forms do run) and
`flowctl tui` (an interactive screen, tested in tests/tui).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TOUR_SECTIONS = ("A five-minute tour", "Schedules and data intervals", "The scheduler: cron, without cron",
                 "Backfill and rebuilding history")
NOT_RETURNING = {
    ("scheduler",): "runs in the foreground until Ctrl-C",
    ("tui",): "an interactive screen (tests/tui drive it)",
}


def tour_commands(readme: str) -> list[list[str]]:
    """The argument lists of the `flowctl` commands in the tour sections' bash blocks, in order."""
    sections = re.split(r"^## ", readme, flags=re.M)
    commands = []
    for section in sections:
        title = section.splitlines()[0].strip() if section else ""
        if title not in TOUR_SECTIONS:
            continue
        for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                if words and words[0] == "flowctl":
                    commands.append(words[1:])
    return commands


def test_the_tour_finds_its_commands():
    """The extraction sees the tour: a guard against a test that silently runs nothing."""
    commands = tour_commands((REPO / "README.md").read_text())
    assert ["run", "weather"] in commands
    assert any(c[:1] == ["backfill"] for c in commands) and any(c[:1] == ["clear"] for c in commands)
    assert ["scheduler"] in commands  # skipped below, and said why


def test_the_readme_tour_runs_as_written(tmp_path):
    """Each command of the tour exits 0 without a traceback, and the tour ends
    with every run of the weather DAG succeeded."""
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(REPO / "flowctl.toml", clone / "flowctl.toml")
    shutil.copytree(REPO / "sample_dags", clone / "sample_dags", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWCTL_") and k != "COLUMNS"}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               FLOWCTL_NOTIFY_DESKTOP="false", FLOWCTL_WORKERS="2")

    def flowctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flowctl", *args], cwd=clone, env=env, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=240)

    ran = []
    try:
        for args in tour_commands((REPO / "README.md").read_text()):
            if tuple(args) in NOT_RETURNING:
                continue
            res = flowctl(*args)
            shown = f"flowctl {shlex.join(args)}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            assert res.returncode == 0, shown
            assert "Traceback" not in res.stderr and "internal error" not in res.stderr, shown
            ran.append(args)
    finally:
        flowctl("scheduler", "stop", "--timeout", "30")
    assert len(ran) >= 25
    runs = json.loads(flowctl("runs", "list", "--dag", "weather", "--json").stdout)
    assert runs and {r["state"] for r in runs} == {"success"}, [(r["run_id"], r["state"]) for r in runs]
    assert any(r["logical_date"] == "2026-11-19T23:00:00+00:00" for r in runs)  # 2026-11-20 in Amsterdam
    assert (clone / ".flowctl").is_dir()  # the home flowctl.toml names
