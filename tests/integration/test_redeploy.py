"""The hub stack deleted and deployed again in moto's CloudFormation: the retained tables keep their data and a new
stack of the same namespace uses them (ExistingTables=true); the stack's other additions of the observability
and deployment work arrive as written (roles in /isched/ with the boundary, the worker's reserved concurrency,
the dashboard). See tests/integration/test_deploy.py for how the template is translated and what moto skips.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import boto3
import pytest

from .hub_helpers import unique
from .test_deploy import cfn_resources, deploy, translate


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator wants a region for its ARNs
    return translate("s3://isched-artifacts/isched.zip")


SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office], timezone: Europe/Berlin}
"""


def test_a_deleted_stacks_tables_are_used_again_by_a_new_stack_of_the_namespace(aws, translated, run, write):
    namespace = unique("r")
    stack, outputs = deploy(copy.deepcopy(translated), Namespace=namespace)
    assert run("--stack", stack, "apply", "--file", write(SCHEDULES), "--json").code == 0
    names = {k: outputs[k] for k in ("ConfigTable", "StateTable", "LedgerTable")}
    assert names == {
        "ConfigTable": f"isched-{namespace}-config",
        "StateTable": f"isched-{namespace}-state",
        "LedgerTable": f"isched-{namespace}-ledger",
    }

    cfn = boto3.client("cloudformation")
    cfn.delete_stack(StackName=stack)
    ddb = boto3.client("dynamodb")
    for table in names.values():  # DeletionPolicy Retain: deleting the stack left them
        assert ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    assert not [
        s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack and "DELETE" not in s["StackStatus"]
    ]

    again, outputs2 = deploy(copy.deepcopy(translated), Namespace=namespace, ExistingTables="true")
    assert {k: outputs2[k] for k in names} == names
    types = {r["LogicalResourceId"] for r in cfn_resources(again)}
    assert not types & {"ConfigTable", "StateTable", "LedgerTable"}  # not created: used
    # The functions are given the same tables, and the schedules written through the first stack are there.
    variables = boto3.client("lambda").get_function_configuration(FunctionName=outputs2["WorkerFunction"])[
        "Environment"
    ]["Variables"]
    assert variables["ISCHED_CONFIG_TABLE"] == names["ConfigTable"]
    assert variables["ISCHED_LEDGER_TABLE"] == names["LedgerTable"]
    exported = run("--stack", again, "schedule", "list", "--json")
    assert exported.code == 0 and [s["name"] for s in json.loads(exported.out)] == ["office"]
    # The roles' table permissions name the same tables (moto keeps a YAML-written policy as Python text).
    iam = boto3.client("iam")
    worker = iam.get_role_policy(RoleName=f"isched-{namespace}-worker-us-east-1", PolicyName="worker")
    assert f":table/{names['StateTable']}" in str(worker["PolicyDocument"])


def test_roles_concurrency_and_dashboard_arrive_as_written(aws, translated):
    namespace = unique("o")
    boundary = boto3.client("iam").create_policy(
        PolicyName=unique("boundary-"),
        Path="/isched/",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    _, outputs = deploy(
        copy.deepcopy(translated), Namespace=namespace, WorkerReservedConcurrency="7", PermissionsBoundaryArn=boundary
    )
    iam = boto3.client("iam")
    for role in ("orchestrator", "worker", "report"):
        got = iam.get_role(RoleName=f"isched-{namespace}-{role}-us-east-1")["Role"]
        assert got["Path"] == "/isched/" and got["Arn"].endswith(f":role/isched/isched-{namespace}-{role}-us-east-1")
        assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert outputs["WorkerRoleArn"].endswith(f":role/isched/{outputs['WorkerRoleName']}")
    lam = boto3.client("lambda")
    assert lam.get_function_concurrency(FunctionName=outputs["WorkerFunction"])["ReservedConcurrentExecutions"] == 7
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName=outputs["OrchestratorFunction"]
    )
    body = json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName=outputs["Dashboard"])["DashboardBody"])
    functions = {
        row[3] for w in body["widgets"] for row in w["properties"].get("metrics", []) if isinstance(row[0], str)
    }
    assert functions == {outputs["OrchestratorFunction"], outputs["WorkerFunction"]}
    assert outputs["Dashboard"] == f"isched-{namespace}-us-east-1"
