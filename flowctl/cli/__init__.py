"""The `flowctl` command: parse -> service -> render (a rich table or --json).

Every module that costs start-up time (pendulum, jinja2, tinydb, textual) is
imported inside the command that needs it, so `flowctl --help` stays fast.
The commands live in one module per group; importing them registers them.
"""

from __future__ import annotations

import sys
from typing import Any

from flowctl.cli import (  # noqa: F401  (registers)
    airflow_cmds,
    assets,
    changes,
    dags,
    history,
    pools,
    running,
    scheduler,
    system,
    tui_cmd,
)
from flowctl.cli.app import UsageError, _err, _last_settings, app, teach


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Errors are one line on stderr, never a traceback unless
    --debug: ours (FlowctlError) with their exit code, a wrong command line
    with exit 2, a file or folder the OS refuses with its path and what to do
    (exit 1). Output goes through a writer that a closed pipe cannot stop."""
    import typer

    from flowctl.cli.render import protect_output, refused_output, reopen_closed_streams
    from flowctl.errors import FlowctlError

    reopen_closed_streams()
    protect_output()
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    command = teach(typer.main.get_command(narrowed(app, args)))
    try:
        code = command.main(args=args, prog_name="flowctl", standalone_mode=False)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            code = 0  # `flowctl` (or a group) alone: its help was printed
        else:
            _err(usage_line(exc))
            code = 2
    except FlowctlError as exc:
        if debug:
            raise
        _err(str(exc))
        code = exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        code = 130
    except OSError as exc:
        if debug:
            raise
        _err(os_error_line(exc))
        code = 1
    except Exception as exc:  # noqa: BLE001
        if debug:
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        code = 1
    code = code if isinstance(code, int) else 0
    lost = refused_output()
    if lost is not None:  # the work went on to its end; what it printed did not reach its place
        _err(f"could not write the output ({lost.strerror or lost}); it is incomplete, "
             f"but the command itself ran to its end")
        code = code or 1
    if argv is None:
        leave(code)
    sys.exit(code)


def leave(code: int) -> None:
    """End the `flowctl` process with `code` once its output is flushed, without
    tearing the interpreter down: freeing every module and object costs a
    short command 20-30 ms that nobody sees the use of. The exit handlers run
    first; with another thread still alive, or under a profiler or tracer
    (which write their results after the program returns), the normal exit."""
    import atexit
    import os
    import threading

    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    watched = sys.gettrace() is not None or sys.getprofile() is not None
    if run_handlers is None or threading.active_count() > 1 or watched:
        sys.exit(code)
    run_handlers()
    try:
        sys.stdout.flush()  # a SafeStream (protect_output): a refusal was said by main()
    except (OSError, ValueError):
        pass  # not ours to wrap (an embedding program's), or closed by the command itself
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # nowhere left to say it
    os._exit(code)


#: The options before the command that take a value (`--home PATH`); tests/unit checks it against the app.
VALUE_OPTIONS = frozenset({"--dags-folder", "--home", "--workers", "--executor", "--dask-address"})


def command_word(args: list[str]) -> str | None:
    """The command's name in a command line: its first word that is not a
    global option or an option's value."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--":
            return None
        elif arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
        else:
            return arg
    return None


def narrowed(full: Any, args: list[str]) -> Any:
    """The app with only the command or group the command line names, when it
    names one: Typer builds every command's parameters on each start (about
    30 ms for all of them), and one command needs only its own. `flowctl`
    alone, --help of the whole, an unknown word (for its "did you mean") and
    shell completion get the whole app."""
    import copy
    import os

    from typer.main import get_command_name

    word = command_word(args)
    if word is None or any(key.startswith("_FLOWCTL_COMPLETE") for key in os.environ):
        return full
    commands = [c for c in full.registered_commands
                if (c.name or (get_command_name(c.callback.__name__) if c.callback else None)) == word]
    groups = [g for g in full.registered_groups if (g.name or g.typer_instance.info.name) == word]
    if not commands and not groups:
        return full
    app_copy = copy.copy(full)
    app_copy.registered_commands = commands
    app_copy.registered_groups = groups
    return app_copy


def usage_line(exc: Exception) -> str:
    """Click's usage error as one line: what is wrong, and where the help is."""
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "flowctl"
    if message:
        message = message[0].lower() + message[1:]
    if message.endswith(".") and not message.endswith(".."):
        message = message[:-1]
    option = getattr(exc, "option_name", None)
    own = {o for p in ctx.find_root().command.params for o in p.opts} if ctx is not None else set()
    if option in own and path != "flowctl":  # `flowctl runs list --home X`: an option of flowctl itself
        return (f"`{path}` has no option {option}: it is an option of flowctl itself and goes before the "
                f"command (`flowctl {option} ... {path.partition(' ')[2]} ...`), or set it in the environment "
                f"or flowctl.toml")
    if option:  # an Airflow option: say what flowctl takes instead
        from flowctl.cli.app import airflow_option_hint

        hint = airflow_option_hint(path, option)
        if hint:
            return hint
    if "did you mean" in message.lower():
        return message
    return f"{message} (see `{path} --help`)"


def os_error_line(exc: OSError) -> str:
    """A file or folder the OS refused, as one line: which, why, what to do."""
    import errno
    from pathlib import Path

    path = str(exc.filename or "")
    settings = _last_settings[0] if _last_settings else None
    home = str(settings.home) if settings is not None else ""
    in_home = bool(home) and (not path or path == home or path.startswith(home + "/"))
    where = path or home or "a file"
    place = "the home" if in_home else path or "it"
    other = " (or choose another home with --home or FLOWCTL_HOME)" if in_home else ""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left on the device holding {where}: free some space and run the command again "
                f"(what was committed before is intact)")
    if code == errno.EROFS:
        return f"{where} is on a read-only file system: {place} must be writable{other}"
    if code in (errno.EACCES, errno.EPERM):
        fix = f"make {place} readable and writable by you" + (f" (chmod -R u+rwX {home})" if in_home else "")
        return f"permission denied: {where}: {fix}{other}"
    if code == errno.ENOTDIR or (code == errno.EEXIST and path and Path(path).is_file()):
        blocker = next((p for p in [Path(path), *Path(path).parents] if p.is_file()), None) if path else None
        if blocker is None:
            return f"a part of {where} is not a folder: {place} must be a folder{other}"
        if in_home and str(blocker).startswith(home + "/"):
            return f"{blocker} is a file, not a folder: flowctl keeps a folder there; move the file aside"
        if in_home and str(blocker) != home:  # above the home: the home cannot be made there at all
            return f"{blocker} is a file, not a folder, so the home {home} cannot be made: choose another with --home or FLOWCTL_HOME"
        return f"{blocker} is a file, not a folder: {place} must be a folder{other}"
    if code == errno.EISDIR:
        return f"{where} is a folder where a file was expected: move it aside{other}"
    if code == errno.ENOENT:
        return f"no such file or folder: {where}"
    reason = (exc.strerror or type(exc).__name__).lower()
    return f"{reason}: {where} (run again with --debug for the traceback)"


if __name__ == "__main__":
    main()
