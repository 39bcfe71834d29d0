"""The CLI builds only the command a command line names (start-up time), and
still knows every global option that takes a value."""

from __future__ import annotations

import pytest
import typer

from flowctl.cli import VALUE_OPTIONS, app, command_word, narrowed

pytestmark = pytest.mark.timeout(60)


def test_value_options_are_the_global_options_that_take_a_value():
    root = typer.main.get_command(app)
    taking = {name for p in root.params if p.param_type_name == "option" and not p.is_flag
              for name in p.opts if name.startswith("--")}
    assert taking == VALUE_OPTIONS


@pytest.mark.parametrize("args, word", [
    (["run", "etl"], "run"),
    (["--home", "run", "dags", "list"], "dags"),  # a home named "run"
    (["--dags-folder", "d", "--debug", "tasks", "states"], "tasks"),
    (["--home=h", "scheduler"], "scheduler"),
    (["--help"], None),
    ([], None),
    (["--", "run"], None),
])
def test_the_command_word(args, word):
    assert command_word(args) == word


def test_only_the_named_command_or_group_is_built():
    only_run = narrowed(app, ["run", "etl"])
    assert [c.callback.__name__ for c in only_run.registered_commands] == ["run"] and not only_run.registered_groups
    only_dags = narrowed(app, ["--home", "h", "dags", "list"])
    assert only_dags.registered_commands == [] and [g.name for g in only_dags.registered_groups] == ["dags"]
    assert narrowed(app, ["--help"]) is app and narrowed(app, ["nosuch"]) is app
    assert len(app.registered_commands) >= 10 and len(app.registered_groups) >= 5  # the original is untouched
