"""`scheduler install`: a login service that starts the scheduler."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.mark.skipif(sys.platform != "linux", reason="the systemd unit is the Linux service")
def test_install_writes_a_unit_systemd_accepts_and_uninstall_removes_it(flow, tmp_path):
    """--print changes nothing; install writes a valid user unit that runs this
    home's scheduler; uninstall removes it."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    unit = tmp_path / "config" / "systemd" / "user" / "flowctl-scheduler.service"
    printed = flow("scheduler", "install", "--print", env=env)
    assert printed.code == 0 and not unit.exists()
    assert f"--home {flow.home}" in printed.out and "-m flowctl" in printed.out and "Restart=on-failure" in printed.out
    res = flow("scheduler", "install", env=env)
    assert res.code == 0 and unit.exists()
    assert "systemctl --user enable --now flowctl-scheduler.service" in res.out
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    assert flow("scheduler", "uninstall", env=env).code == 0 and not unit.exists()
    assert "no login service" in flow("scheduler", "uninstall", env=env).out


@pytest.mark.skipif(sys.platform != "linux", reason="the systemd unit is the Linux service")
def test_the_unit_keeps_the_settings_and_another_homes_unit_is_left_alone(flow, tmp_path):
    """The unit carries the installing shell's FLOWCTL_ settings (its workers, its
    webhook) with `%` and quotes escaped for systemd, is private (a webhook may hold a
    token), and neither install nor uninstall from another home touches it."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "FLOWCTL_WORKERS": "3",
           "FLOWCTL_NOTIFY_WEBHOOK": 'http://127.0.0.1:9/"x"%y', "FLOWCTL_NOTIFY_COMMAND": "echo a\nExecStartPre=/x",
           "FLOWCTL_DAG_ID": "not-a-setting"}
    unit = tmp_path / "config" / "systemd" / "user" / "flowctl-scheduler.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("left by an earlier install")
    unit.chmod(0o644)
    assert flow("scheduler", "install", env=env).code == 0
    text = unit.read_text()
    assert 'Environment="FLOWCTL_WORKERS=3"' in text
    assert 'Environment="FLOWCTL_NOTIFY_WEBHOOK=http://127.0.0.1:9/\\"x\\"%%y"' in text
    assert 'Environment="FLOWCTL_NOTIFY_COMMAND=echo a\\nExecStartPre=/x"' in text  # no directive of its own
    assert "\nExecStartPre" not in text and "FLOWCTL_DAG_ID" not in text
    assert unit.stat().st_mode & 0o777 == 0o600
    other = {**env, "FLOWCTL_HOME": str(tmp_path / "other")}
    for command in ("install", "uninstall"):
        res = flow("scheduler", command, env=other)
        assert res.code == 1 and f"runs the scheduler of another home, {flow.home}" in res.err, res.err
        assert unit.read_text() == text
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    assert flow("scheduler", "uninstall", env=env).code == 0 and not unit.exists()
