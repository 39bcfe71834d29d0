"""Secrets: which keys are sensitive, masking documents, redacting free text.

A value is secret when its key contains one of Airflow's sensitive words
(`password`, `secret`, `token`, `api_key`, `private_key`, `credentials`,
... case-insensitive). Everything flowctl writes or shows passes such values
through here:

    mask_doc({"user": "ann", "db_password": "hunter22"})
    -> {"user": "ann", "db_password": "***"}

Free text (task logs, error lines) cannot be masked by key, so the values
themselves are registered once seen (`register(value)`, or `register_doc(doc)`
for every sensitive value inside a document) and `redact(text)` replaces each
registered value by `***`. The registry belongs to the process: the task
process registers the secrets of its params, conf, Variables and Connections.

Pure: no I/O, cheap to import.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"

SENSITIVE_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "credentials",
    "authorization",
    "keyfile_dict",
    "service_account",
)
"""Airflow's list of sensitive key words (core.sensitive_var_conn_names defaults) plus `credentials`."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not redacted from free text: masking "ab" everywhere wrecks logs."""


def is_sensitive(key: Any) -> bool:
    """Whether a value stored under `key` is a secret (`DB_Password`, `api_token`, ...)."""
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


def mask_doc(value: Any, key: Any = None) -> Any:
    """A copy of `value` with every value under a sensitive key replaced by `***`
    (whole sub-documents included), and registered secrets redacted from strings.
    Lists, tuples and dicts are walked; other values are returned as they are."""
    if key is not None and is_sensitive(key) and value not in (None, ""):
        return MASK
    if isinstance(value, dict):
        return {k: mask_doc(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_doc(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def sensitive_values(value: Any, key: Any = None) -> Iterable[str]:
    """Every secret inside a document: the (string forms of the) values under sensitive keys."""
    if key is not None and is_sensitive(key):
        yield from _leaves(value)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from sensitive_values(v, k)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from sensitive_values(v)


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _leaves(v)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


# -- the registry of secret values (this process) --------------------------------

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: Any) -> None:
    """Remember a secret so that `redact` removes it from any text."""
    global _pattern
    if value is None or isinstance(value, bool):
        return
    text = str(value)
    candidates = {text}
    if "\n" in text:  # a multi-line secret (a key file) is also redacted line by line
        candidates |= {line for line in text.splitlines() if len(line.strip()) >= MIN_SECRET_LENGTH}
    candidates = {c for c in candidates if len(c) >= MIN_SECRET_LENGTH} - _secrets
    if not candidates:
        return
    with _lock:
        _secrets.update(candidates)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no half-masked secret
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_doc(value: Any) -> None:
    """Register every value under a sensitive key inside `value`."""
    for secret in sensitive_values(value):
        register(secret)


def registered() -> frozenset[str]:
    return frozenset(_secrets)


def forget_all() -> None:
    """Empty the registry (tests; a fresh task process starts empty anyway)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def redact_bytes(data: bytes) -> bytes:
    if _pattern is None or not data:
        return data
    return redact(data.decode("utf-8", errors="surrogateescape")).encode("utf-8", errors="surrogateescape")


class RedactingWriter:
    """A text stream that redacts registered secrets before they reach the stream
    it wraps (a task's stdout or stderr). Everything else is delegated."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    @property
    def wrapped(self) -> Any:
        return self._stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text) if _pattern is not None else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
