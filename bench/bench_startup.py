"""Start-up cost of the `flowctl` command.

1. `flowctl --help` wall time: median of 15 runs after 2 warm-ups (target <= 0.25 s).
2. `python -X importtime -c "import flowctl.cli"`: which heavy modules the CLI
   module pulls in at import (textual, jinja2, pendulum, tinydb, croniter and
   filelock must not be among them), and the slowest imports.
3. Building Typer's command tree: all of it (as `--help` needs) against only
   the command a command line names (as `flowctl run` builds it).

Run: .venv/bin/python bench/bench_startup.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("textual", "jinja2", "pendulum", "tinydb", "croniter", "filelock")
RUNS, WARMUPS = 15, 2
TARGET_S = 0.25


def flowctl_exe() -> str:
    exe = Path(sys.executable).with_name("flowctl")
    return str(exe) if exe.exists() else shutil.which("flowctl") or "flowctl"


def import_rows(code: str, env: dict[str, str], cwd: str) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) for each import `python -X importtime -c code` makes."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          env=env, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        rows.append((int(cum_us), int(self_us), name.strip()))
    return rows


def heavy_in(rows: list[tuple[int, int, str]]) -> list[str]:
    modules = {name for _, _, name in rows}
    return sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules))


def main() -> None:
    home = tempfile.mkdtemp(prefix="flowctl-bench-home-")
    dags = tempfile.mkdtemp(prefix="flowctl-bench-dags-")
    env = {**os.environ, "FLOWCTL_HOME": home, "FLOWCTL_DAGS_FOLDER": dags, "FLOWCTL_WORKERS": "2"}
    cmd = [flowctl_exe(), "--help"]
    try:
        times = []
        for i in range(WARMUPS + RUNS):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, cwd=dags)
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()}")
            if i >= WARMUPS:
                times.append(elapsed)
        med = statistics.median(times)
        print(f"flowctl --help wall time: median {med:.3f} s over {RUNS} runs "
              f"(min {min(times):.3f}, max {max(times):.3f}); target <= {TARGET_S} s: "
              f"{'met' if med <= TARGET_S else 'MISSED'}")

        rows = import_rows("import flowctl.cli", env, dags)
        imported = heavy_in(rows)
        total = next((cum for cum, _, name in rows if name == "flowctl.cli"), None)
        print(f"import flowctl.cli: {total / 1000:.1f} ms cumulative, {len(rows)} modules"
              if total is not None else "import flowctl.cli: not found in -X importtime output")
        print(f"heavy modules imported by `import flowctl.cli`: {', '.join(imported) if imported else 'none'} "
              f"(checked: {', '.join(HEAVY)})")
        top = sorted((r for r in rows if r[2].count(".") == 0), reverse=True)[:8]
        print("slowest top-level imports (cumulative ms): "
              + ", ".join(f"{name} {cum / 1000:.1f}" for cum, _, name in top))
        # and the whole `--help` path (Typer renders help with rich)
        rows = import_rows("import sys; sys.argv = ['flowctl', '--help']\n"
                           "from flowctl.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
                           env, dags)
        imported = heavy_in(rows)
        print(f"heavy modules imported while running `flowctl --help`: {', '.join(imported) if imported else 'none'}")
        # building the command tree: all of it (--help) against the one command a line names
        code = ("import time\nfrom typer.main import get_command\nfrom flowctl.cli import app, narrowed\n"
                "def ms(a):\n    t = time.perf_counter(); get_command(a); return (time.perf_counter() - t) * 1000\n"
                "whole = sorted(ms(app) for _ in range(5))[2]\n"
                "one = sorted(ms(narrowed(app, ['run', 'x'])) for _ in range(5))[2]\n"
                "print(f'{whole:.1f} {one:.1f}')")
        whole, one = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    cwd=dags, check=True).stdout.split()
        print(f"building the command tree (median of 5): all commands {whole} ms, `flowctl run` alone {one} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(dags, ignore_errors=True)


if __name__ == "__main__":
    main()
