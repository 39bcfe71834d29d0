"""dagfolder.py: which files of the DAG folder are DAG files (`.airflowignore`, safe mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowctl.dagfolder import find_dag_files, glob_to_regex

pytestmark = pytest.mark.timeout(10)

DAG_TEXT = "from airflow import DAG\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def found(root: Path, **kwargs) -> list[str]:
    return [p.relative_to(root).as_posix() for p in find_dag_files(root, **kwargs)]


def test_regexp_patterns_search_the_path_from_the_dag_folder(tmp_path):
    """Airflow 2's syntax: a line is a regular expression searched in the path
    relative to the DAG folder; a comment starts with #; a folder's file applies below it."""
    root = tree(tmp_path, {
        ".airflowignore": "legacy/  # old stuff\n_test\\.py$\n",
        "etl.py": DAG_TEXT, "etl_test.py": DAG_TEXT, "legacy/old.py": DAG_TEXT,
        "team/.airflowignore": "scratch", "team/a.py": DAG_TEXT, "team/scratch.py": DAG_TEXT,
        "other/scratch.py": DAG_TEXT,
    })
    assert found(root, syntax="regexp") == ["etl.py", "other/scratch.py", "team/a.py"]


def test_glob_patterns_follow_gitignore(tmp_path):
    """Airflow 3's syntax: gitignore's rules, a later `!pattern` un-ignores, a slash anchors."""
    root = tree(tmp_path, {
        ".airflowignore": "*_test.py\nbuild/\n/top_only.py\n!keep_test.py\nsub/**/deep.py\n",
        "a.py": DAG_TEXT, "a_test.py": DAG_TEXT, "keep_test.py": DAG_TEXT, "build/b.py": DAG_TEXT,
        "top_only.py": DAG_TEXT, "x/top_only.py": DAG_TEXT, "sub/q/r/deep.py": DAG_TEXT,
        "sub/ok.py": DAG_TEXT,
    })
    assert found(root, syntax="glob") == ["a.py", "keep_test.py", "sub/ok.py", "x/top_only.py"]


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        ("*.py", "a.py", True),
        ("*.py", "a.pyc", False),
        ("build/", "build/", True),
        ("build/", "build", False),
        ("/a/b.py", "a/b.py", True),
        ("a/**/c.py", "a/c.py", True),
        ("a/**/c.py", "a/x/y/c.py", True),
        ("[ab].py", "b.py", True),
        ("[!ab].py", "b.py", False),
    ],
)
def test_glob_translation(pattern, path, matches):
    """The gitignore wildcards: *, **, [...], trailing / for folders."""
    import re

    regex, _ = glob_to_regex(pattern)
    assert bool(re.match(regex, path)) is matches


def test_safe_mode_skips_files_that_mention_neither_dag_nor_airflow(tmp_path):
    """Safe mode (on by default in the settings) skips helper modules; off, every .py file is a candidate."""
    root = tree(tmp_path, {"etl.py": "from flowctl import DAG\n", "af.py": "import airflow\n",
                           "helpers.py": "def add(a, b):\n    return a + b\n", "_private.py": DAG_TEXT})
    assert found(root, safe_mode=True) == ["af.py", "etl.py"]
    assert found(root, safe_mode=False) == ["af.py", "etl.py", "helpers.py"]
