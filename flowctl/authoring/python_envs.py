"""Python callables run by another interpreter: `PythonVirtualenvOperator`
(`@task.virtualenv`) and `ExternalPythonOperator` (`@task.external_python`),
and their branch forms.

The function's source (decorators removed) is written to a script that the
other interpreter runs; arguments go in and the return value comes back as
JSON (an XCom is a JSON value anyway), so interpreters of any version work.
As in Airflow, the function must be a `def` that imports what it needs inside.
With `use_airflow_context=True` its `get_current_context()` (imported from
`airflow.operators.python`, `airflow.providers.standard.operators.python` or
`airflow.sdk`) gives the context's JSON values (dates as text), as Airflow
2.10 did; Airflow 3 dropped the feature, which needs no Airflow in the venv here.

A virtualenv is made once per requirement set and kept under the home
(`<home>/venvs/<hash>`), by `python -m venv` and `pip install`, so it uses
whatever package index pip is configured for on this machine. Two tasks that
need the same set wait for one another instead of building it twice.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flowctl.authoring.operators import BranchMixin, PythonOperator, _source_of, exit_codes
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped

_PASSABLE_CONTEXT = (
    "ds", "ds_nodash", "ts", "ts_nodash", "run_id", "logical_date", "execution_date",
    "data_interval_start", "data_interval_end", "params", "conf", "task_instance_key_str",
    "prev_ds", "next_ds", "yesterday_ds", "tomorrow_ds", "test_mode",
)
"""Context values a function run elsewhere may name as parameters (JSON-able ones)."""


def function_script(fn: Callable[..., Any]) -> tuple[str, str]:
    """(function name, its source without decorators), dedented."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        raise TaskFailed(f"cannot read the source of {fn!r}: a function run in another interpreter "
                         "must be defined with def in a file") from None
    tree = ast.parse(source)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        raise TaskFailed(f"{fn!r} must be a function defined with def (not a lambda)")
    node.decorator_list = []
    return node.name, ast.unparse(node)


_RUNNER = '''
import json as _json
import sys as _sys

virtualenv_string_args = {string_args}


def _give_context(context):
    # use_airflow_context: get_current_context() where Airflow's DAG code imports it from,
    # unless this interpreter has an Airflow of its own
    import importlib.util
    import types

    if importlib.util.find_spec("airflow") is not None:
        return
    for name in {context_modules}:
        module = _sys.modules.setdefault(name, types.ModuleType(name))
        module.get_current_context = lambda: context
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(_sys.modules[parent], child, module)

{source}

if __name__ == "__main__":
    with open(_sys.argv[1]) as _f:
        _data = _json.load(_f)
    if _data.get("context") is not None:
        _give_context(_data["context"])
    _result = {name}(*_data["args"], **_data["kwargs"])
    if hasattr(_result, "__await__"):
        import asyncio as _asyncio

        async def _wait(awaitable):
            return await awaitable

        _result = _asyncio.run(_wait(_result))
    with open(_sys.argv[2], "w") as _f:
        _json.dump(_result, _f)
'''


_CONTEXT_MODULES = (
    "airflow", "airflow.operators", "airflow.operators.python", "airflow.sdk", "airflow.providers",
    "airflow.providers.standard", "airflow.providers.standard.operators",
    "airflow.providers.standard.operators.python",
)
"""Where DAG code imports `get_current_context` from (parents first)."""


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _stream(argv: list[str], env: dict[str, str] | None) -> int:
    """Run `argv`, its output going to the task log with secrets redacted."""
    from flowctl import masking

    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    out = sys.stdout.buffer
    for raw in proc.stdout:
        out.write(masking.redact_bytes(raw))
        out.flush()
    return proc.wait()


class _OtherInterpreter(PythonOperator):
    """What the virtualenv and external-Python operators share: run the callable
    by `self.interpreter(context)` and bring its JSON return value back."""

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(self, task_id: str, python_callable: Callable[..., Any], string_args: Iterable[str] | None = None,
                 skip_on_exit_code: int | Iterable[int] | None = None, env_vars: dict[str, str] | None = None,
                 inherit_env: bool = True, expect_airflow: bool = True, serializer: str | None = None,
                 use_dill: bool = False, use_airflow_context: bool = False, **kwargs: Any) -> None:
        self.string_args = [str(a) for a in (string_args or [])]
        self.use_airflow_context = bool(use_airflow_context)
        self.skip_on_exit_code = exit_codes(skip_on_exit_code)
        self.env_vars = dict(env_vars or {})
        self.inherit_env = inherit_env
        self.expect_airflow = expect_airflow
        self.serializer = serializer or ("dill" if use_dill else "json")
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)

    def interpreter(self, context: dict[str, Any]) -> str:
        raise NotImplementedError

    def execute_callable(self, context: dict[str, Any]) -> Any:
        name, source = function_script(self.python_callable)
        python = self.interpreter(context)
        wanted = inspect.signature(self.python_callable).parameters
        kwargs = dict(self.op_kwargs)
        for key in _PASSABLE_CONTEXT:
            if key in wanted and key not in kwargs and key in context:
                kwargs[key] = context[key]
        if "templates_dict" in wanted and "templates_dict" not in kwargs:
            kwargs["templates_dict"] = self.templates_dict
        given = {k: context[k] for k in _PASSABLE_CONTEXT if k in context} if self.use_airflow_context else None
        try:
            data = json.dumps({"args": _jsonable(self.op_args), "kwargs": _jsonable(kwargs),
                               "context": _jsonable(given)})
        except (TypeError, ValueError) as exc:
            raise TaskFailed(f"the arguments of {name} cannot be sent to another interpreter: {exc}") from None
        env = {**os.environ, **self.env_vars} if self.inherit_env else dict(self.env_vars)
        with tempfile.TemporaryDirectory(prefix="flowctl-python-") as tmp:
            script = Path(tmp) / "script.py"
            script.write_text(_RUNNER.format(string_args=json.dumps(self.string_args), source=source, name=name,
                                             context_modules=repr(_CONTEXT_MODULES)))
            (Path(tmp) / "input.json").write_text(data)
            output = Path(tmp) / "output.json"
            print(f"Running {name} with {python}", flush=True)
            code = _stream([python, str(script), str(Path(tmp) / "input.json"), str(output)], env)
            if code in self.skip_on_exit_code:
                raise TaskSkipped(f"Process exited with code {code}. Skipping.")
            if code != 0:
                raise TaskFailed(f"{name} in {python} failed with exit code {code}")
            try:
                return json.loads(output.read_text())
            except (OSError, ValueError):
                raise TaskFailed(f"{name} in {python} returned no JSON value") from None

    def code_text(self) -> str:
        return _source_of(self.python_callable)


class ExternalPythonOperator(_OtherInterpreter):
    """Runs the callable with the Python interpreter at `python` (an existing virtualenv, say)."""

    def __init__(self, task_id: str, python: str, python_callable: Callable[..., Any], **kwargs: Any) -> None:
        if not isinstance(python, str) or not python:
            raise DagDefinitionError(f"task {task_id!r}: python must be the path of a Python interpreter")
        self.python = python
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)

    def interpreter(self, context: dict[str, Any]) -> str:
        if not os.path.exists(self.python):
            raise TaskFailed(f"no Python interpreter at {self.python}")
        return self.python


class PythonVirtualenvOperator(_OtherInterpreter):
    """Runs the callable in a virtualenv with `requirements` installed (cached per set)."""

    template_fields = ("requirements", "templates_dict", "op_args", "op_kwargs")

    def __init__(self, task_id: str, python_callable: Callable[..., Any],
                 requirements: Iterable[str] | str | None = None, python_version: str | None = None,
                 system_site_packages: bool = True, pip_install_options: list[str] | None = None,
                 index_urls: list[str] | str | None = None, venv_cache_path: str | os.PathLike[str] | None = None,
                 index_urls_from_connection_ids: list[str] | str | None = None, **kwargs: Any) -> None:
        if isinstance(requirements, str):
            requirements = [requirements]
        self.requirements = list(requirements or [])
        self.python_version = str(python_version) if python_version else None
        self.system_site_packages = system_site_packages
        self.pip_install_options = list(pip_install_options or [])
        self.index_urls = [index_urls] if isinstance(index_urls, str) else list(index_urls or [])
        ids = index_urls_from_connection_ids
        self.index_urls_from_connection_ids = [ids] if isinstance(ids, str) else list(ids or [])
        self.venv_cache_path = str(venv_cache_path) if venv_cache_path else None
        super().__init__(task_id=task_id, python_callable=python_callable, **kwargs)

    def code_text(self) -> str:
        return _source_of(self.python_callable) + "\n" + "\n".join(map(str, self.requirements))

    def interpreter(self, context: dict[str, Any]) -> str:
        base = sys.executable
        if self.python_version:
            found = shutil.which(f"python{self.python_version}")
            if found is None:
                raise TaskFailed(f"python_version={self.python_version!r}: no python{self.python_version} on PATH")
            base = found
        home = getattr(self, "_flowctl_home", None)  # set by the runner
        root = Path(home) / "venvs" if home else Path(self.venv_cache_path or tempfile.gettempdir()) / "flowctl-venvs"
        index_urls = [*self.index_urls, *map(package_index_url, self.index_urls_from_connection_ids)]
        return str(ensure_virtualenv(root, base, [str(r) for r in self.requirements], self.system_site_packages,
                                     self.pip_install_options, index_urls) / "bin" / "python")


def package_index_url(conn_id: str) -> str:
    """The index URL a package-index connection names: its host, with its login
    and password as basic auth (Airflow's PackageIndexHook)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    from flowctl import connections

    conn = connections.find(conn_id)
    if conn is None:
        raise TaskFailed(f"The conn_id `{conn_id}` isn't defined")
    if not conn.host:
        raise TaskFailed(f"connection {conn_id!r} has no host: it must hold the package index URL")
    url = urlsplit(conn.host)
    host = url.netloc.split("@")[-1]
    if conn.login:
        auth = quote(conn.login) + (f":{quote(conn.password)}" if conn.password else "")
        host = f"{auth}@{host}"
    return urlunsplit((url.scheme, host, url.path, url.query, url.fragment))


_venv_lock = threading.Lock()


def is_venv_installed() -> bool:
    """Airflow's check before using PythonVirtualenvOperator. flowctl makes its
    virtualenvs with the standard library's `venv`, so they can always be made."""
    return True


def venv_key(base: str, requirements: list[str], system_site_packages: bool, options: list[str],
             index_urls: list[str]) -> str:
    doc = {"python": os.path.realpath(base), "requirements": sorted(requirements), "system": system_site_packages,
           "options": options, "index": index_urls}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def ensure_virtualenv(root: Path, base: str, requirements: list[str], system_site_packages: bool,
                      options: list[str], index_urls: list[str]) -> Path:
    """The virtualenv for this requirement set under `root`, built on first use."""
    import fcntl

    from flowctl.store import private_dir

    key = venv_key(base, requirements, system_site_packages, options, index_urls)
    target = root / key
    ready = target / ".flowctl-ready"
    if ready.exists():
        print(f"Using the cached virtualenv {target}", flush=True)
        return target
    private_dir(root)
    with _venv_lock, open(root / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            print(f"Using the virtualenv {target} another task just built", flush=True)
            return target
        building = root / f".{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        print(f"Creating a virtualenv for {requirements or 'no requirements'} in {target}", flush=True)
        outer_pip = _pip_can_target()
        argv = [base, "-m", "venv", *(["--system-site-packages"] if system_site_packages else []),
                *(["--without-pip"] if outer_pip else []), str(building)]
        if _stream(argv, None) != 0:
            raise TaskFailed(f"could not create a virtualenv with {base} -m venv")
        venv_python = str(building / "bin" / "python")
        # This interpreter's pip installs into the new environment (seconds faster than
        # bootstrapping a pip inside it); an old pip cannot, so the venv then gets its own.
        pip = [sys.executable, "-m", "pip", "--python", venv_python] if outer_pip else [venv_python, "-m", "pip"]
        pip += ["install", "--disable-pip-version-check", *options]
        if index_urls:
            pip += ["--index-url", index_urls[0], *[x for u in index_urls[1:] for x in ("--extra-index-url", u)]]
        reqs: list[str] = []
        for req in requirements:
            reqs += ["-r", req] if req.endswith(".txt") and os.path.exists(req) else [req]
        if reqs and _stream([*pip, *reqs], None) != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise TaskFailed(f"pip could not install {requirements} (see the log above)")
        (building / ".flowctl-ready").write_text(json.dumps(requirements))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(building, target)
    return target


def _pip_can_target() -> bool:
    """Whether this interpreter's pip can install into another environment (`--python`, pip 22.3+)."""
    try:
        from importlib.metadata import version

        major, minor = (int(x) for x in version("pip").split(".")[:2])
    except Exception:  # noqa: BLE001 - no pip, or an odd version string
        return False
    return (major, minor) >= (22, 3)


class BranchPythonVirtualenvOperator(BranchMixin, PythonVirtualenvOperator):
    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.execute_callable(context))


class BranchExternalPythonOperator(BranchMixin, ExternalPythonOperator):
    def execute(self, context: dict[str, Any]) -> Any:
        return self.do_branch(context, self.execute_callable(context))


class DecoratedVirtualenv(PythonVirtualenvOperator):
    @property
    def operator_name(self) -> str:
        return "@task.virtualenv"


class DecoratedExternalPython(ExternalPythonOperator):
    @property
    def operator_name(self) -> str:
        return "@task.external_python"


class DecoratedBranchVirtualenv(BranchPythonVirtualenvOperator):
    @property
    def operator_name(self) -> str:
        return "@task.branch_virtualenv"


class DecoratedBranchExternalPython(BranchExternalPythonOperator):
    @property
    def operator_name(self) -> str:
        return "@task.branch_external_python"
