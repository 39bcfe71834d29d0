"""Which files of the DAG folder are DAG files, as Airflow decides it.

- Every `.py` file below the folder, skipping names that start with `.` or `_`
  and `__pycache__`.
- `.airflowignore` files: each line is a pattern (text after `#` is a comment);
  a file or folder a pattern matches is skipped. A pattern applies in the
  folder of its `.airflowignore` and below. Two syntaxes, as Airflow's
  `dag_ignore_file_syntax`:
  - `regexp` (Airflow 2's default): `re.search` on the path relative to the
    DAG folder, e.g. `^legacy/` or `_test\\.py$`;
  - `glob` (Airflow 3's default): gitignore's rules, e.g. `legacy/`, `*_test.py`,
    `/only_here.py`, `**/tmp`, `!keep.py` (a later `!` pattern un-ignores).
- Safe mode (`dag_discovery_safe_mode`, on by default): a file whose text
  mentions neither `dag` nor `airflow` (any case) is not imported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".airflowignore"


@dataclass(frozen=True)
class IgnoreRule:
    regex: re.Pattern[str]
    base: Path  #: paths are matched relative to this folder
    name_only: bool = False  #: glob without a slash: matched against the name alone
    negate: bool = False
    glob: bool = False


def _segment(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = text.find("]", i + 2 if text[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = text[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif c == "\\" and i + 1 < len(text):
            i += 1
            out.append(re.escape(text[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def glob_to_regex(pattern: str) -> tuple[str, bool]:
    """(regex, name_only) of a gitignore pattern (without its `!`)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    dir_only = pattern.endswith("/")
    body = pattern.strip("/")
    parts = body.split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:.*/)?"
            continue
        regex += _segment(part) + ("" if last else "/")
    suffix = "/.*" if dir_only else "(?:/.*)?"
    return f"^{regex}{suffix}$", not anchored


def parse_ignore_file(path: Path, root: Path, syntax: str) -> list[IgnoreRule]:
    rules: list[IgnoreRule] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return rules
    for raw in text.split("\n"):
        line = re.sub(r"\s*#.*", "", raw).rstrip()
        if not line.strip():
            continue
        if syntax == "glob":
            negate = line.startswith("!")
            pattern = line[1:] if negate else line
            if pattern.strip() == "/":
                continue
            regex, name_only = glob_to_regex(pattern)
            rules.append(IgnoreRule(re.compile(regex), path.parent, name_only, negate, glob=True))
        else:
            try:
                rules.append(IgnoreRule(re.compile(line), root))
            except re.error:
                continue  # Airflow skips an invalid pattern too
    return rules


def is_ignored(path: Path, is_dir: bool, rules: list[IgnoreRule]) -> bool:
    """Whether the rules ignore `path` (regexp: any match; glob: the last match decides)."""
    ignored = False
    for rule in rules:
        if rule.glob:
            rel = path.name if rule.name_only else path.relative_to(rule.base).as_posix()
            if is_dir:
                rel += "/"
            if rule.regex.match(rel):
                ignored = not rule.negate
        elif rule.regex.search(path.relative_to(rule.base).as_posix()):
            return True
    return ignored


def might_contain_dag(path: Path) -> bool:
    """Airflow's safe-mode heuristic (here: either word, not both, as the contract says)."""
    try:
        content = path.read_bytes().lower()
    except OSError:
        return True  # let the import report what is wrong with it
    return b"dag" in content or b"airflow" in content


def find_dag_files(folder: Path, safe_mode: bool = False, syntax: str = "regexp") -> list[Path]:
    """The DAG files below `folder`, in a stable order."""
    found: list[Path] = []
    if not folder.is_dir():
        return found
    root = folder
    inherited: dict[str, list[IgnoreRule]] = {str(folder): []}
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        rules = list(inherited.pop(current, []))
        if IGNORE_FILE in files:
            rules += parse_ignore_file(here / IGNORE_FILE, root, syntax)
        keep = []
        for d in sorted(dirs):
            if d.startswith((".", "_")) or is_ignored(here / d, True, rules):
                continue
            keep.append(d)
            inherited[str(here / d)] = rules
        dirs[:] = keep
        for name in sorted(files):
            if not name.endswith(".py") or name.startswith((".", "_")):
                continue
            path = here / name
            if rules and is_ignored(path, False, rules):
                continue
            if safe_mode and not might_contain_dag(path):
                continue
            found.append(path)
    return found
