"""AWS in tests: a moto server on 127.0.0.1 (a real HTTP AWS API, no account, no network) and a guard that fails
the test on any call that is not a read."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto.server import ThreadedMotoServer

READ_PREFIXES = ("Get", "List", "Head", "Describe")
# Calls that change nothing in the account although their names do not say so.
READ_CALLS = {"StartQueryExecution", "StopQueryExecution", "ValidatePolicy", "CheckNoPublicAccess", "CheckNoNewAccess",
              "GetCallerIdentity"}


def is_read(operation: str) -> bool:
    """True for an operation s3plan may call (`service:Name` for services other than S3): it reads, never writes."""
    name = operation.rsplit(":", 1)[-1]
    return name.startswith(READ_PREFIXES) or name in READ_CALLS


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free port; boto3 reaches it through AWS_ENDPOINT_URL, with dummy credentials."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # S3 Control puts the account id in front of the host (<account>.127.0.0.1), which does not resolve: every
    # session made during the test sends those calls to the server itself (only the host changes)
    original = botocore.session.Session.__init__
    prefixed = re.compile(r"^(https?://)\d{12}\.")

    def unprefix(request: Any, **_: Any) -> None:
        request.url = prefixed.sub(r"\1", request.url)

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-send.s3-control", unprefix)

    monkeypatch.setattr(botocore.session.Session, "__init__", init)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    yield endpoint
    # moto keeps its state in this process, beyond the server: reset it so the next test starts empty
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    server.stop()


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every botocore session made during the test gets a `before-parameter-build` hook (the first event of every
    call, and one Stubber's canned answers do not skip) that fails the test on a write.
    Yields the operations called, in order. Seed data before asking for this fixture (or with `seeding`)."""
    calls: list[str] = []
    original = botocore.session.Session.__init__

    def guard(model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        calls.append(model.name if service != "s3control" else f"s3control:{model.name}")
        if not is_read(model.name):
            pytest.fail(f"s3plan called {model.service_model.service_name}:{model.name}, which is not read-only")

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", guard)

    monkeypatch.setattr(botocore.session.Session, "__init__", init)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3.client() makes a guarded default session, undone after
    yield calls
