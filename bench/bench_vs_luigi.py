"""flowctl and Luigi side by side, in one run, the commands alternated.

Luigi is installed into a scratch virtualenv (`~/.cache/flowctl-bench/luigi`,
from the package index pip is configured for); nothing of it is committed.
The same work for both, on 2 workers:

- a fan-out: start -> 200 no-op tasks -> join (202 tasks); Luigi tasks write an
  empty marker file each (Luigi decides "done" by its targets), flowctl tasks
  are no-op Python callables;
- one no-op task: the cost of starting a run.

Each round runs flowctl fan-out, Luigi fan-out, flowctl one-task, Luigi
one-task, in that order; medians over the rounds, and the ratios. Then, if
`hyperfine` is installed (Debian's package), its own comparison of the same
commands (it runs each command's repeats together, so it is a second opinion,
not the alternated figure).

Run: .venv/bin/python bench/bench_vs_luigi.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

LUIGI_VENV = Path.home() / ".cache" / "flowctl-bench" / "luigi"

LUIGI_TASKS = textwrap.dedent("""
    import os
    import luigi

    OUT = os.environ["LUIGI_OUT"]

    class Start(luigi.Task):
        def output(self):
            return luigi.LocalTarget(f"{OUT}/start")

        def run(self):
            open(self.output().path, "w").close()

    class T(luigi.Task):
        i = luigi.IntParameter()

        def requires(self):
            return Start()

        def output(self):
            return luigi.LocalTarget(f"{OUT}/t{self.i:03d}")

        def run(self):
            open(self.output().path, "w").close()

    class Join(luigi.Task):
        n = luigi.IntParameter(default=200)

        def requires(self):
            return [T(i=i) for i in range(self.n)]

        def output(self):
            return luigi.LocalTarget(f"{OUT}/join")

        def run(self):
            open(self.output().path, "w").close()

    class Only(luigi.Task):
        def output(self):
            return luigi.LocalTarget(f"{OUT}/only")

        def run(self):
            open(self.output().path, "w").close()
""")

FLOWCTL_DAGS = {
    "fanout.py": """
        import pendulum
        from flowctl import DAG, PythonOperator

        def noop():
            pass

        with DAG("fanout", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            start = PythonOperator(task_id="start", python_callable=noop)
            join = PythonOperator(task_id="join", python_callable=noop)
            for i in range(200):
                start >> PythonOperator(task_id=f"t{i:03d}", python_callable=noop) >> join
    """,
    "one.py": """
        import pendulum
        from flowctl import DAG, PythonOperator

        def noop():
            pass

        with DAG("one", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
            PythonOperator(task_id="only", python_callable=noop)
    """,
}


def luigi_python() -> Path:
    python = LUIGI_VENV / "bin" / "python"
    if not python.exists():
        print("installing Luigi into a scratch virtualenv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LUIGI_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "luigi"], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    lpy = luigi_python()
    version = subprocess.run([str(lpy), "-c", "import luigi; print(luigi.__version__)"], capture_output=True,
                             text=True).stdout.strip()
    root = Path(tempfile.mkdtemp(prefix="flowctl-bench-luigi-"))
    try:
        (root / "luigi_tasks.py").write_text(LUIGI_TASKS)
        dags = root / "dags"
        dags.mkdir()
        for name, source in FLOWCTL_DAGS.items():
            (dags / name).write_text(textwrap.dedent(source))
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: bytecode cached
        fenv = {**base, "FLOWCTL_HOME": str(root / "home"), "FLOWCTL_DAGS_FOLDER": str(dags),
                "FLOWCTL_WORKERS": "2", "FLOWCTL_NOTIFY_DESKTOP": "false"}
        flowctl = [sys.executable, "-m", "flowctl"]
        commands = {
            "flowctl fan-out": (flowctl + ["run", "fanout", "--json"], fenv),
            "luigi fan-out": ([str(lpy), "-m", "luigi", "--module", "luigi_tasks", "Join", "--workers", "2",
                               "--local-scheduler", "--no-lock"], None),
            "flowctl one task": (flowctl + ["run", "one", "--json"], fenv),
            "luigi one task": ([str(lpy), "-m", "luigi", "--module", "luigi_tasks", "Only", "--workers", "2",
                                "--local-scheduler", "--no-lock"], None),
        }
        subprocess.run(flowctl + ["dags", "list"], env=fenv, capture_output=True, check=True)  # DAG cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        for r in range(rounds + 1):  # round 0 warms file caches and is not counted
            for name, (cmd, env) in commands.items():
                if env is None:
                    out = root / f"luigi-{r}-{name.split()[1]}"
                    out.mkdir()
                    env = {**base, "LUIGI_OUT": str(out), "PYTHONPATH": str(root)}
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
                elapsed = time.perf_counter() - t0
                if proc.returncode != 0 or (env.get("LUIGI_OUT") and "This progress looks :)" not in proc.stderr):
                    raise SystemExit(f"{name} failed:\n{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
                if r:
                    times[name].append(elapsed)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        print(f"machine: {os.cpu_count()} CPUs; Luigi {version} (local scheduler), flowctl local executor; "
              f"2 workers each; {rounds} rounds, commands alternated; medians")
        for name, ts in times.items():
            print(f"  {name:17s} {med[name]:.3f} s   (min {min(ts):.3f}, max {max(ts):.3f})")
        print(f"fan-out (202 tasks): flowctl / Luigi = {med['flowctl fan-out'] / med['luigi fan-out']:.2f}x   "
              f"(target <= 0.5x)")
        print(f"one task: flowctl / Luigi = {med['flowctl one task'] / med['luigi one task']:.2f}x   "
              f"(target <= 1.0x)")
        if shutil.which("hyperfine"):
            print("\nhyperfine (each command's runs together, not alternated):", flush=True)
            prep = f"rm -rf {root}/hf && mkdir {root}/hf"
            subprocess.run([
                "hyperfine", "--warmup", "1", "--runs", str(rounds), "--style", "basic", "--prepare", prep,
                "-n", "flowctl fan-out", " ".join(commands["flowctl fan-out"][0]),
                "-n", "luigi fan-out", " ".join(commands["luigi fan-out"][0]),
            ], env={**fenv, "LUIGI_OUT": f"{root}/hf", "PYTHONPATH": str(root)}, cwd=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
