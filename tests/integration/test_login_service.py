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
