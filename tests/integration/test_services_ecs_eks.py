"""ECS services and EKS managed node groups against a moto server: real services and node groups, acted on through
the adapters, `isched tag` and `isched run`, and read back with describe calls.

Every test uses its own region (or tag key), so tests sharing the moto server never see each other's resources.
moto cannot tag an EKS node group after its creation (its TagResource knows clusters only): what that touches
(the mirror of the saved sizes, informational tags, `isched tag` on a node group) is covered with recorded API
responses in ``tests/unit/test_services_ecs_eks.py``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scheduler.services.base import Resource
from scheduler.services.ecs import SAVED_CAPACITY_TAG, EcsAdapter
from scheduler.services.eks import EksAdapter

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
MON = "2026-03-02"  # a Monday
TUE = "2026-03-03"
ROLE = "arn:aws:iam::123456789012:role/eks"
_REGIONS = itertools.cycle(["eu-west-1", "eu-west-2", "eu-central-1", "ap-southeast-2", "ca-central-1", "us-west-2"])


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    return point_at(next(_REGIONS))


@pytest.fixture
def key(aws: str) -> str:
    return f"Schedule-{_uid()}"


class Ecs:
    """ECS clusters, task definitions and services in one region, as a person would create them."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.client = boto3.client("ecs", region_name=region)

    def task(self, family: str, *, fargate: bool = True, cpu: str = "256", memory: str = "512") -> str:
        params: dict[str, Any] = {
            "family": family,
            "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 256}],
        }
        if fargate:
            params |= {"cpu": cpu, "memory": memory, "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc"}
        return str(self.client.register_task_definition(**params)["taskDefinition"]["taskDefinitionArn"])

    def service(self, cluster: str, name: str, desired: int, tags: dict[str, str], *, fargate: bool = True) -> str:
        self.client.create_cluster(clusterName=cluster)
        task = self.task(f"{cluster}-{name}", fargate=fargate)
        return str(
            self.client.create_service(
                cluster=cluster,
                serviceName=name,
                taskDefinition=task,
                desiredCount=desired,
                launchType="FARGATE" if fargate else "EC2",
                tags=[{"key": k, "value": v} for k, v in tags.items()],
            )["service"]["serviceArn"]
        )

    def get(self, ident: str) -> dict[str, Any]:
        cluster, name = ident.split("/")
        got = self.client.describe_services(cluster=cluster, services=[name], include=["TAGS"])["services"][0]
        return dict(got)

    def desired(self, ident: str) -> int:
        return int(self.get(ident)["desiredCount"])

    def tags(self, ident: str) -> dict[str, str]:
        return {t["key"]: t["value"] for t in self.get(ident).get("tags", [])}

    def scale(self, ident: str, desired: int) -> None:
        cluster, name = ident.split("/")
        self.client.update_service(cluster=cluster, service=name, desiredCount=desired)


class Eks:
    def __init__(self, region: str) -> None:
        self.client = boto3.client("eks", region_name=region)
        self.clusters: set[str] = set()

    def group(self, cluster: str, name: str, sizes: tuple[int, int, int], tags: dict[str, str], **kw: Any) -> str:
        if cluster not in self.clusters:
            self.client.create_cluster(name=cluster, roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
            self.clusters.add(cluster)
        low, high, desired = sizes
        return str(
            self.client.create_nodegroup(
                clusterName=cluster,
                nodegroupName=name,
                nodeRole=ROLE,
                subnets=["subnet-1"],
                scalingConfig={"minSize": low, "maxSize": high, "desiredSize": desired},
                tags=tags,
                **kw,
            )["nodegroup"]["nodegroupArn"]
        )

    def sizes(self, ident: str) -> tuple[int, int, int]:
        cluster, name = ident.split("/")
        s = self.client.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["scalingConfig"]
        return s["minSize"], s["maxSize"], s["desiredSize"]


def by_id(resources: list[Resource]) -> dict[str, Resource]:
    return {r.id: r for r in resources}


# --- ECS adapter ----------------------------------------------------------------------------------------------


def test_ecs_discovery_pages_through_clusters_and_services_and_reads_task_sizes(region: str, key: str) -> None:
    ecs = Ecs(region)
    ecs.service("alpha", "web", 2, {key: "office", "Team": "web"})
    ecs.service("alpha", "worker", 1, {key: "office"}, fargate=False)
    ecs.service("alpha", "untagged", 1, {"Team": "web"})
    ecs.service("beta", "api", 3, {key: "office"})
    adapter = EcsAdapter(region, page_size=1, batch_size=1)
    found = by_id(adapter.discover(key))
    assert set(found) == {"alpha/web", "alpha/worker", "beta/api"}
    web = found["alpha/web"]
    assert web.schedule == "office" and web.arn is not None and web.arn.endswith(":service/alpha/web")
    assert web.details["desired"] == 2 and web.details["launch_type"] == "FARGATE"
    assert (web.details["cpu"], web.details["memory"]) == ("256", "512")
    assert found["alpha/worker"].details["launch_type"] == "EC2" and "cpu" not in found["alpha/worker"].details
    assert {r.observed.value for r in found.values()} == {"running"}


def test_ecs_stop_saves_the_count_in_a_tag_first_and_start_restores_it_exactly(region: str, key: str) -> None:
    ecs = Ecs(region)
    ecs.service("shop", "web", 3, {key: "office"})
    ecs.service("shop", "jobs", 2, {key: "office"}, fargate=False)
    adapter = EcsAdapter(region)
    found = adapter.discover(key)
    results = {r.resource: r for r in adapter.stop(found)}
    assert all(r.ok for r in results.values())
    assert results["shop/web"].details["saved_capacity"] == {"desired": 3}
    assert (ecs.desired("shop/web"), ecs.desired("shop/jobs")) == (0, 0)
    assert ecs.tags("shop/web")[SAVED_CAPACITY_TAG] == "desired=3"
    assert ecs.tags("shop/jobs")[SAVED_CAPACITY_TAG] == "desired=2"
    assert {r.observed.value for r in adapter.discover(key)} == {"stopped"}
    # The state table's count wins over the tag; the tag serves when the table has none.
    saved = {"shop/web": {"saved_capacity": {"desired": 3}}}
    started = {r.resource: r for r in adapter.start(found, saved=saved)}
    assert all(r.ok for r in started.values()), started
    assert (ecs.desired("shop/web"), ecs.desired("shop/jobs")) == (3, 2)


def test_ecs_a_count_changed_by_hand_is_respected_and_saved_by_the_next_stop(region: str, key: str) -> None:
    ecs = Ecs(region)
    ecs.service("app", "web", 2, {key: "office"})
    adapter = EcsAdapter(region)
    [res] = adapter.discover(key)
    assert adapter.stop([res])[0].ok and ecs.desired("app/web") == 0
    ecs.scale("app/web", 5)  # someone needs it now
    [again] = adapter.start([res], saved={"app/web": {"saved_capacity": {"desired": 2}}})
    assert again.ok and again.details.get("already_running") and ecs.desired("app/web") == 5
    [stop] = adapter.stop([res])
    assert stop.details["saved_capacity"] == {"desired": 5} and ecs.tags("app/web")[SAVED_CAPACITY_TAG] == "desired=5"
    # A stop of a service already at 0 leaves its tag (and so what the start restores) alone.
    [stopped] = adapter.stop([res])
    assert stopped.details == {"already_stopped": True, "saved_capacity": {"desired": 5}}
    assert adapter.start([res], saved={})[0].ok and ecs.desired("app/web") == 5


def test_ecs_one_failing_service_does_not_stop_the_others(
    region: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs = Ecs(region)
    for name in ("a", "b", "c"):
        ecs.service("fleet", name, 1, {key: "office"})
    adapter = EcsAdapter(region)
    found = adapter.discover(key)
    real = adapter.client.update_service

    def update(**params: Any) -> Any:
        if params["service"] == "b":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "UpdateService")
        return real(**params)

    monkeypatch.setattr(adapter.client, "update_service", update)
    missing = Resource("ecs", "fleet/gone", "office", found[0].observed)
    results = {r.resource: r for r in adapter.stop([*found, missing])}
    assert results["fleet/b"].error == "AccessDeniedException: denied"
    assert "not found" in (results["fleet/gone"].error or "")
    assert results["fleet/a"].ok and results["fleet/c"].ok
    assert [ecs.desired(f"fleet/{n}") for n in ("a", "b", "c")] == [0, 1, 0]


def test_ecs_start_without_a_saved_count_is_an_error(region: str, key: str) -> None:
    ecs = Ecs(region)
    ecs.service("cold", "web", 0, {key: "office"})
    adapter = EcsAdapter(region)
    [res] = adapter.discover(key)
    [result] = adapter.start([res], saved={})
    assert not result.ok and "no desired count was saved" in (result.error or "") and ecs.desired("cold/web") == 0


# --- EKS adapter ----------------------------------------------------------------------------------------------


def test_eks_discovery_and_scaling_to_zero_and_back_exactly(region: str, key: str) -> None:
    eks = Eks(region)
    eks.group("k8s", "general", (2, 6, 3), {key: "office"}, instanceTypes=["m5.large"])
    eks.group("k8s", "spot", (1, 4, 1), {key: "office"}, instanceTypes=["t3.large"], capacityType="SPOT")
    eks.group("k8s", "untagged", (1, 2, 1), {"Team": "x"})
    adapter = EksAdapter(region, page_size=1)
    found = by_id(adapter.discover(key))
    assert set(found) == {"k8s/general", "k8s/spot"}
    general = found["k8s/general"]
    assert general.instance_type == "m5.large" and general.details["min"] == 2 and general.details["desired"] == 3
    assert found["k8s/spot"].details["capacity_type"] == "SPOT"
    stopped = {r.resource: r for r in adapter.stop(list(found.values()))}
    assert all(r.ok for r in stopped.values())
    assert stopped["k8s/general"].details["saved_capacity"] == {"min": 2, "max": 6, "desired": 3}
    # moto cannot tag a node group: the mirror fails, the state table (the worker's) holds the sizes.
    assert SAVED_CAPACITY_TAG in (stopped["k8s/general"].warning or "")
    assert eks.sizes("k8s/general") == (0, 6, 0) and eks.sizes("k8s/spot") == (0, 4, 0)
    assert {r.observed.value for r in adapter.discover(key)} == {"stopped"}
    saved = {i: {"saved_capacity": r.details["saved_capacity"]} for i, r in stopped.items()}
    started = adapter.start(list(found.values()), saved=saved)
    assert all(r.ok for r in started)
    assert eks.sizes("k8s/general") == (2, 6, 3) and eks.sizes("k8s/spot") == (1, 4, 1)


def test_eks_start_without_saved_sizes_and_unknown_groups_fail_alone(region: str, key: str) -> None:
    eks = Eks(region)
    eks.group("k8s", "a", (0, 3, 0), {key: "office"})
    eks.group("k8s", "b", (0, 3, 0), {key: "office"})
    adapter = EksAdapter(region)
    found = by_id(adapter.discover(key))
    gone = Resource("eks", "k8s/gone", "office", found["k8s/a"].observed)
    results = {
        r.resource: r
        for r in adapter.start([*found.values(), gone], saved={"k8s/b": {"min": 1, "max": 3, "desired": 2}})
    }
    assert "no sizes were saved" in (results["k8s/a"].error or "")
    assert "not found" in (results["k8s/gone"].error or "")
    assert results["k8s/b"].ok and eks.sizes("k8s/b") == (1, 3, 2) and eks.sizes("k8s/a") == (0, 3, 0)


# --- through the command line ---------------------------------------------------------------------------------


@pytest.fixture
def configured(run: Callable[..., Any], namespace: str, region: str, write: Callable[..., str]) -> str:
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    return region


def test_isched_tag_an_ecs_service_by_name_and_by_arn(run: Callable[..., Any], configured: str) -> None:
    ecs = Ecs(configured)
    ecs.service("store", "web", 1, {})
    arn = ecs.service("store", "api", 1, {})
    r = run("tag", "store/web", arn, "--schedule", "office", "--json")
    assert r.code == 0, r.out
    got = {o["resource"]: o for o in r.json()["results"]}
    assert (got["store/web"]["kind"], got["store/web"]["id"]) == ("ecs", "store/web")
    assert (got[arn]["id"], got[arn]["arn"]) == ("store/api", arn)
    assert ecs.tags("store/web")["Schedule"] == "office" and ecs.tags("store/api")["Schedule"] == "office"
    r = run("untag", "store/web", "--json")
    assert r.code == 0 and "Schedule" not in ecs.tags("store/web")


def test_isched_tag_refuses_a_name_both_an_ecs_service_and_an_eks_node_group_have(
    run: Callable[..., Any], configured: str
) -> None:
    ecs, eks = Ecs(configured), Eks(configured)
    ecs.service("shared", "web", 1, {})
    eks.group("shared", "web", (1, 2, 1), {})
    r = run("tag", "shared/web", "--schedule", "office", "--json")
    assert r.code == 1
    assert "ambiguous" in r.out and "ECS service" in r.out and "EKS node group" in r.out
    assert "Schedule" not in ecs.tags("shared/web")


def test_run_stops_ecs_services_and_restores_their_exact_counts(run: Callable[..., Any], configured: str) -> None:
    ecs = Ecs(configured)
    ecs.service("prod", "web", 3, {"Schedule": "office"})
    ecs.service("prod", "legacy", 2, {"Schedule": "office"}, fargate=False)

    def go(at: str) -> dict[str, Any]:
        r = run("run", "--at", at, "--services", "ecs", "--json")
        assert r.code == 0, r.out
        body: dict[str, Any] = r.json()
        return body

    go(f"{MON}T16:55:00Z")
    body = go(f"{MON}T17:00:00Z")
    assert {a["resource"]: a["action"] for a in body["actions"]} == {"prod/web": "stop", "prod/legacy": "stop"}
    assert (ecs.desired("prod/web"), ecs.desired("prod/legacy")) == (0, 0)
    assert ecs.tags("prod/web")["isched:last-action"].startswith("stop ")
    body = go(f"{TUE}T09:00:00Z")
    assert {a["resource"]: a["action"] for a in body["actions"]} == {"prod/web": "start", "prod/legacy": "start"}
    assert (ecs.desired("prod/web"), ecs.desired("prod/legacy")) == (3, 2)


def test_run_scales_eks_node_groups_to_zero_and_back_from_the_state_table(
    run: Callable[..., Any], configured: str
) -> None:
    eks = Eks(configured)
    eks.group("k8s", "nodes", (2, 5, 4), {"Schedule": "office"}, instanceTypes=["t3.large"])

    def go(at: str) -> dict[str, Any]:
        r = run("run", "--at", at, "--services", "eks", "--json")
        body: dict[str, Any] = r.json()
        # moto cannot tag node groups: the only failures are the informational tags (and the mirror's warning).
        failures = [e for e in body["errors"] if not e["error"].startswith("warning")]
        assert all("could not set informational tags" in e["error"] for e in failures), body
        assert r.code == (1 if failures else 0)
        return body

    go(f"{MON}T16:55:00Z")
    body = go(f"{MON}T17:00:00Z")
    assert [(a["resource"], a["action"]) for a in body["actions"]] == [("k8s/nodes", "stop")]
    assert any(e["error"].startswith("warning") and SAVED_CAPACITY_TAG in e["error"] for e in body["errors"])
    assert eks.sizes("k8s/nodes") == (0, 5, 0)
    body = go(f"{TUE}T09:00:00Z")
    assert [(a["resource"], a["action"]) for a in body["actions"]] == [("k8s/nodes", "start")]
    assert eks.sizes("k8s/nodes") == (2, 5, 4)
