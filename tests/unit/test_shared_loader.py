"""Every session isched makes shares one botocore model loader, so each service's model is parsed once a process."""

from __future__ import annotations

import boto3
import pytest

from scheduler.aws import session as aws
from scheduler.store.tables import Tables


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing is called


def _loader(session: boto3.Session) -> object:
    return session._session.get_component("data_loader")


def test_new_sessions_share_the_loader_and_its_parsed_models() -> None:
    first, second = aws.new_session(), aws.new_session("us-east-2")
    assert _loader(first) is _loader(second) is aws.shared_loader()
    assert second.region_name == "us-east-2"
    first.client("ec2")
    loader = aws.shared_loader()
    parsed = loader.load_service_model("ec2", "service-2")
    second.client("ec2")
    assert loader.load_service_model("ec2", "service-2") is parsed  # cached once for both sessions


def test_search_paths_do_not_grow_with_every_session() -> None:
    for _ in range(5):
        aws.new_session()
    paths = aws.shared_loader().search_paths
    assert len(paths) == len(set(paths))
    assert any(p.endswith("boto3/data") for p in paths)  # boto3's resource models are still found
    assert aws.new_session().resource("s3").meta.service_name == "s3"


def test_a_callers_own_session_gets_the_shared_loader_before_a_client_is_made() -> None:
    plain = boto3.Session()
    assert _loader(plain) is not aws.shared_loader()
    aws.client("sqs", "eu-west-1", session=plain)
    assert _loader(plain) is aws.shared_loader()


def test_the_tables_models_share_the_loader() -> None:
    tables = Tables.for_namespace("loader-test")
    for model in (tables.config, tables.state, tables.ledger):
        connection = model._get_connection().connection
        assert connection.session.get_component("data_loader") is aws.shared_loader()
