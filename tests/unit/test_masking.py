"""masking.py: which keys are secret, masked documents, redacted text."""

from __future__ import annotations

import io

import pytest

from flowctl import masking

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(autouse=True)
def empty_registry():
    masking.forget_all()
    yield
    masking.forget_all()


@pytest.mark.parametrize(
    "key, sensitive",
    [
        pytest.param("password", True, id="password"),
        pytest.param("DB_Password", True, id="any-case"),
        pytest.param("my_secret", True, id="secret"),
        pytest.param("api_token", True, id="token"),
        pytest.param("stripe_api_key", True, id="api_key"),
        pytest.param("ssh_private_key", True, id="private_key"),
        pytest.param("gcp_credentials", True, id="credentials"),
        pytest.param("user", False, id="user"),
        pytest.param("limit", False, id="limit"),
        pytest.param(3, False, id="not-a-string"),
    ],
)
def test_sensitive_keys_are_airflows_words(key, sensitive):
    """A key is sensitive when it contains one of Airflow's words, in any case."""
    assert masking.is_sensitive(key) is sensitive


def test_mask_doc_masks_values_under_sensitive_keys_at_any_depth():
    """Values under sensitive keys become *** (whole sub-documents too); the rest is kept."""
    doc = {"user": "ann", "db_password": "hunter22", "nested": [{"api_token": "t0ken-x", "n": 1}],
           "credentials": {"a": "b"}, "empty_secret": ""}
    assert masking.mask_doc(doc) == {
        "user": "ann", "db_password": "***", "nested": [{"api_token": "***", "n": 1}],
        "credentials": "***", "empty_secret": "",
    }
    assert doc["db_password"] == "hunter22"  # a copy: the input is untouched


def test_registered_secrets_are_redacted_from_free_text():
    """Once registered, a secret is replaced wherever it appears in text; short values are not."""
    masking.register("hunter22")
    masking.register("ab")
    assert masking.redact("login hunter22 ok, ab") == "login *** ok, ab"
    assert masking.redact_bytes(b"x=hunter22\n") == b"x=***\n"
    assert masking.mask_doc({"note": "pw is hunter22"}) == {"note": "pw is ***"}


def test_register_doc_registers_the_values_of_sensitive_keys():
    """register_doc finds the secrets inside a document (params, conf, a connection's extra)."""
    masking.register_doc({"user": "ann", "cfg": {"token": "abc123", "password": ["p4ssw0rd"]}})
    assert masking.registered() == {"abc123", "p4ssw0rd"}


def test_the_writer_redacts_what_passes_through_it():
    """RedactingWriter is what a task's stdout and stderr are wrapped in."""
    out = io.StringIO()
    writer = masking.RedactingWriter(out)
    masking.register("s3cr3t!")
    writer.write("key=s3cr3t!\n")
    assert out.getvalue() == "key=***\n"
