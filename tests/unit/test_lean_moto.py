"""The demo's simulated AWS: moto's default images only, and node-group tags for the duration of the demo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from scheduler.demo.lean_moto import ENV, default_images_only, node_group_tags


def test_the_image_file_is_moto_s_default_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    default_images_only()
    images = json.loads(Path(os.environ[ENV]).read_text(encoding="utf-8"))
    assert len(images) > 10 and all(i["ami_id"].startswith("ami-") for i in images)
    monkeypatch.setenv(ENV, "/somewhere/else.json")
    default_images_only()
    assert os.environ[ENV] == "/somewhere/else.json"  # a path the caller chose is kept


def _node_group(eks: object) -> str:
    role = "arn:aws:iam::123456789012:role/r"
    eks.create_cluster(name="c", roleArn=role, resourcesVpcConfig={"subnetIds": []})  # type: ignore[attr-defined]
    made = eks.create_nodegroup(  # type: ignore[attr-defined]
        clusterName="c",
        nodegroupName="g",
        nodeRole=role,
        subnets=["s"],
        scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
    )
    return str(made["nodegroup"]["nodegroupArn"])


def test_node_groups_are_tagged_inside_the_context_and_moto_is_itself_again_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        eks = boto3.client("eks", region_name="eu-west-1")
        arn = _node_group(eks)
        with node_group_tags():
            eks.tag_resource(resourceArn=arn, tags={"Schedule": "office", "keep": "1"})
            eks.untag_resource(resourceArn=arn, tagKeys=["keep"])
            assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"Schedule": "office"}
            assert eks.describe_nodegroup(clusterName="c", nodegroupName="g")["nodegroup"]["tags"] == {
                "Schedule": "office"
            }
            cluster = eks.describe_cluster(name="c")["cluster"]["arn"]
            eks.tag_resource(resourceArn=cluster, tags={"a": "b"})  # clusters as before
            assert eks.list_tags_for_resource(resourceArn=cluster)["tags"] == {"a": "b"}
        with pytest.raises(eks.exceptions.ClientError):
            eks.tag_resource(resourceArn=arn, tags={"x": "y"})  # moto's own behaviour is back
