"""The EC2 and Auto Scaling adapters against a moto server: real instances and groups, acted on through the adapters
and read back with describe calls.

Every test uses its own schedule tag key (and its own group names), so tests sharing a moto server never discover
each other's resources. Failures AWS would raise but moto does not (a hibernation refusal, a per-instance deny) are
injected by wrapping the adapter's client method; everything else is moto's own behaviour.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scheduler.aws import session
from scheduler.engine import Observed
from scheduler.services.asg import AsgAdapter
from scheduler.services.base import Resource
from scheduler.services.capacity import SAVED_CAPACITY_TAG, CapacityError, parse_capacity
from scheduler.services.ec2 import Ec2Adapter

AMI = "ami-12c6146b"  # one of the AMIs moto serves in every region
REGION = "us-east-1"  # the region the `aws` fixture makes the default
AZ = "us-east-1a"


def _uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def key(aws: str) -> str:
    """A schedule tag key of this test's own."""
    return f"Schedule-{_uid()}"


@pytest.fixture
def ec2(aws: str) -> Any:
    return session.client("ec2", region=REGION)


@pytest.fixture
def autoscaling(aws: str) -> Any:
    return session.client("autoscaling", region=REGION)


def launch(
    ec2: Any,
    count: int = 1,
    *,
    tags: dict[str, str] | None = None,
    instance_type: str = "t3.micro",
    hibernate: bool = False,
) -> list[str]:
    """Runs ``count`` instances in one reservation; returns their ids."""
    params: dict[str, Any] = {
        "ImageId": AMI,
        "MinCount": count,
        "MaxCount": count,
        "InstanceType": instance_type,
        "HibernationOptions": {"Configured": hibernate},
    }
    if tags:
        params["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return [i["InstanceId"] for i in ec2.run_instances(**params)["Instances"]]


def describe(ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}


def states(ec2: Any, ids: list[str]) -> dict[str, str]:
    return {i: inst["State"]["Name"] for i, inst in describe(ec2, ids).items()}


def record(client: Any, event: str) -> list[dict[str, Any]]:
    """The API parameters of every call ``client`` makes for ``event`` (e.g. ``ec2.StopInstances``)."""
    calls: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"before-parameter-build.{event}", hook)
    return calls


def failing(
    original: Callable[..., Any], bad: str, code: str, message: str, when: Callable[[dict[str, Any]], bool] = bool
) -> Callable[..., Any]:
    """``original``, except that a call naming instance ``bad`` fails the way EC2 fails a whole request."""

    def call(**params: Any) -> Any:
        if bad in params.get("InstanceIds", []) and when(params):
            raise ClientError({"Error": {"Code": code, "Message": message}}, "StopInstances")
        return original(**params)

    return call


def ec2_resource(iid: str, **details: Any) -> Resource:
    return Resource(service="ec2", id=iid, schedule="office", observed=Observed.RUNNING, details=details)


# --- EC2 discovery ---------------------------------------------------------------------------------------------


def test_discovery_finds_tagged_live_instances_and_skips_asg_members(
    key: str, ec2: Any, autoscaling: Any, aws: str
) -> None:
    running = launch(ec2, tags={key: "office", "Name": "web"}, hibernate=True)[0]
    stopped = launch(ec2, tags={key: "  nights "}, instance_type="m5.large")[0]
    ec2.stop_instances(InstanceIds=[stopped])
    untagged = launch(ec2)[0]
    gone = launch(ec2, tags={key: "office"})[0]
    ec2.terminate_instances(InstanceIds=[gone])
    group = f"asg-{_uid()}"
    _group(ec2, autoscaling, group, tags={key: "office"}, propagate=True, sizes=(1, 1, 1))
    members = [
        i["InstanceId"]
        for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0][
            "Instances"
        ]
    ]
    assert members
    # The member carries the schedule tag (propagated), so only the group-name tag keeps it out.
    assert all(key in {t["Key"] for t in inst.get("Tags", [])} for inst in describe(ec2, members).values())

    found = {r.id: r for r in Ec2Adapter(REGION).discover(key)}

    assert set(found) == {running, stopped}
    assert untagged not in found and gone not in found
    r = found[running]
    assert (r.service, r.schedule, r.observed, r.instance_type) == ("ec2", "office", Observed.RUNNING, "t3.micro")
    assert r.arn == f"arn:aws:ec2:{REGION}:123456789012:instance/{running}"
    assert r.tags == {key: "office", "Name": "web"}
    assert r.details["hibernation_configured"] is True
    assert r.details["tenancy"] == "default"
    assert datetime.fromisoformat(r.details["launch_time"]).tzinfo is not None
    assert "state_reason" not in r.details
    s = found[stopped]
    assert (s.schedule, s.observed, s.instance_type) == ("nights", Observed.STOPPED, "m5.large")
    assert s.details["hibernation_configured"] is False
    assert s.details["state_reason"]["code"] == "Client.UserInitiatedShutdown"


def test_discovery_paginates_with_max_results_on_every_call(key: str, ec2: Any) -> None:
    ids = [i for _ in range(30) for i in launch(ec2, 4, tags={key: "office"})]
    launch(ec2, 3)  # untagged: the server-side filter leaves them out
    adapter = Ec2Adapter(REGION, page_size=5)
    calls = record(adapter.client, "ec2.DescribeInstances")

    found = adapter.discover(key)

    assert sorted(r.id for r in found) == sorted(ids)
    assert len(ids) == 120
    # moto pages by reservations (30 of them), AWS by instances: either way more than one page was needed.
    assert len(calls) >= 6
    assert all(c.get("MaxResults") == 5 for c in calls)
    assert all({"Name": "tag-key", "Values": [key]} in c["Filters"] for c in calls)


def test_default_page_size_is_the_api_maximum(key: str, ec2: Any) -> None:
    launch(ec2, tags={key: "office"})
    adapter = Ec2Adapter(REGION)
    calls = record(adapter.client, "ec2.DescribeInstances")
    assert len(adapter.discover(key)) == 1
    assert [c["MaxResults"] for c in calls] == [1000]
    with pytest.raises(ValueError, match="page_size"):
        Ec2Adapter(REGION, page_size=2000)


# --- EC2 stop and start ----------------------------------------------------------------------------------------


def test_stop_and_start_change_the_state(key: str, ec2: Any) -> None:
    ids = launch(ec2, 3, tags={key: "office"})
    adapter = Ec2Adapter(REGION)
    resources = adapter.discover(key)

    stopped = adapter.stop([*resources, resources[0]])  # a resource named twice is acted on once

    assert [r.resource for r in stopped] == [r.id for r in resources]
    assert all(r.ok and r.error is None for r in stopped)
    assert set(states(ec2, ids).values()) == {"stopped"}
    assert {r.observed for r in adapter.discover(key)} == {Observed.STOPPED}

    started = adapter.start(adapter.discover(key), saved={})

    assert all(r.ok for r in started)
    assert set(states(ec2, ids).values()) == {"running"}


def test_a_failing_id_is_isolated_and_the_rest_of_its_batch_still_stops(
    key: str, ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = launch(ec2, 7, tags={key: "office"})
    bad = ids[5]
    adapter = Ec2Adapter(REGION, batch_size=4)
    denied = "You are not authorized to perform this operation."
    monkeypatch.setattr(
        adapter.client, "stop_instances", failing(adapter.client.stop_instances, bad, "UnauthorizedOperation", denied)
    )
    calls = record(adapter.client, "ec2.StopInstances")

    results = {r.resource: r for r in adapter.stop([ec2_resource(i) for i in ids])}

    assert not results[bad].ok
    assert results[bad].error == f"UnauthorizedOperation: {denied}"
    assert all(results[i].ok for i in ids if i != bad)
    after = states(ec2, ids)
    assert after[bad] == "running"
    assert all(after[i] == "stopped" for i in ids if i != bad)
    # Batches [0-3] and [4-6]; the second fails and is bisected: [4] then [5, 6] fails, [5] fails, [6].
    sent = [c["InstanceIds"] for c in calls]
    assert all(len(batch) <= 4 for batch in sent)
    assert sent == [ids[0:4], [ids[4]], [ids[6]]]


def test_an_unknown_id_fails_alone_on_start(key: str, ec2: Any) -> None:
    ids = launch(ec2, 3, tags={key: "office"})
    ec2.stop_instances(InstanceIds=ids)
    ghost = "i-0123456789abcdef0"
    adapter = Ec2Adapter(REGION)

    results = {r.resource: r for r in adapter.start([ec2_resource(i) for i in [ids[0], ghost, *ids[1:]]], saved={})}

    # moto, like EC2, rejects the whole StartInstances call for one unknown id.
    error = results[ghost].error
    assert not results[ghost].ok
    assert error is not None and error.startswith("InvalidInstanceID.NotFound")
    assert all(results[i].ok for i in ids)
    assert set(states(ec2, ids).values()) == {"running"}


def test_errors_about_the_request_are_not_bisected(key: str, ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = launch(ec2, 4, tags={key: "office"})
    adapter = Ec2Adapter(REGION)
    monkeypatch.setattr(
        adapter.client, "stop_instances", failing(adapter.client.stop_instances, ids[0], "AuthFailure", "bad keys")
    )
    attempts: list[int] = []
    original = adapter.client.stop_instances

    def counting(**params: Any) -> Any:
        attempts.append(len(params["InstanceIds"]))
        return original(**params)

    monkeypatch.setattr(adapter.client, "stop_instances", counting)

    results = adapter.stop([ec2_resource(i) for i in ids])

    assert attempts == [4]
    assert [r.error for r in results] == ["AuthFailure: bad keys"] * 4


def test_hibernate_only_instances_configured_for_it(key: str, ec2: Any) -> None:
    able = launch(ec2, tags={key: "office"}, hibernate=True)[0]
    plain = launch(ec2, tags={key: "office"})[0]
    adapter = Ec2Adapter(REGION)
    calls = record(adapter.client, "ec2.StopInstances")

    results = {r.resource: r for r in adapter.stop(adapter.discover(key), hibernate=True)}

    assert {(tuple(c["InstanceIds"]), c.get("Hibernate", False)) for c in calls} == {((able,), True), ((plain,), False)}
    assert results[able].ok and results[able].details["hibernated"] is True
    assert results[plain].ok and results[plain].details["hibernated"] is False
    assert "not configured" in results[plain].details["hibernate_error"]
    assert states(ec2, [able, plain]) == {able: "stopped", plain: "stopped"}


def test_refused_hibernation_falls_back_to_a_plain_stop(key: str, ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = launch(ec2, 3, tags={key: "office"}, hibernate=True)
    refusing = ids[1]
    adapter = Ec2Adapter(REGION)
    refusal = "Instance is not ready to hibernate yet, please try again later."
    monkeypatch.setattr(
        adapter.client,
        "stop_instances",
        failing(
            adapter.client.stop_instances,
            refusing,
            "UnsupportedHibernationConfiguration",
            refusal,
            when=lambda p: bool(p.get("Hibernate")),
        ),
    )
    calls = record(adapter.client, "ec2.StopInstances")
    # No discovery details: the adapter reads HibernationOptions itself.
    results = {r.resource: r for r in adapter.stop([ec2_resource(i) for i in ids], hibernate=True)}

    assert all(r.ok for r in results.values())
    assert results[refusing].details["hibernated"] is False
    assert results[refusing].details["hibernate_error"] == f"UnsupportedHibernationConfiguration: {refusal}"
    assert all(results[i].details["hibernated"] is True for i in ids if i != refusing)
    assert {"InstanceIds": [refusing]} in calls  # the plain stop, without Hibernate
    assert set(states(ec2, ids).values()) == {"stopped"}


def test_a_failing_plain_stop_after_a_refused_hibernation_is_an_error(
    key: str, ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = launch(ec2, tags={key: "office"}, hibernate=True)[0]
    adapter = Ec2Adapter(REGION)
    monkeypatch.setattr(
        adapter.client,
        "stop_instances",
        failing(adapter.client.stop_instances, iid, "UnsupportedOperation", "no hibernation, no stop"),
    )

    [result] = adapter.stop(adapter.discover(key), hibernate=True)

    assert not result.ok
    assert result.error is not None and "after hibernation was refused" in result.error
    assert states(ec2, [iid]) == {iid: "running"}


# --- EC2 resize ------------------------------------------------------------------------------------------------


def test_resize_a_running_instance(key: str, ec2: Any) -> None:
    iid = launch(ec2, tags={key: "office"})[0]
    adapter = Ec2Adapter(REGION, wait_delay=1, wait_attempts=5)
    calls = record(adapter.client, "ec2.StopInstances")
    [resource] = adapter.discover(key)

    result = adapter.resize(resource, "t3.large")

    assert result.ok, result.error
    assert result.details == {"instance_type": "t3.large", "previous_instance_type": "t3.micro", "changed": True}
    assert len(calls) == 1  # stopped first: EC2 changes the type of stopped instances only
    inst = describe(ec2, [iid])[iid]
    assert (inst["InstanceType"], inst["State"]["Name"]) == ("t3.large", "running")


def test_resize_a_stopped_instance_and_skip_an_unchanged_type(key: str, ec2: Any) -> None:
    stopped, same = launch(ec2, 2, tags={key: "office"})
    ec2.stop_instances(InstanceIds=[stopped])
    adapter = Ec2Adapter(REGION, wait_delay=1, wait_attempts=5)
    modify = record(adapter.client, "ec2.ModifyInstanceAttribute")
    stops = record(adapter.client, "ec2.StopInstances")

    assert adapter.resize(ec2_resource(stopped), "m5.large").ok
    assert describe(ec2, [stopped])[stopped]["InstanceType"] == "m5.large"
    assert states(ec2, [stopped]) == {stopped: "running"}
    assert len(modify) == 1 and not stops

    result = adapter.resize(ec2_resource(same), "t3.micro")

    assert result.ok and result.details == {"instance_type": "t3.micro", "changed": False}
    assert len(modify) == 1 and not stops
    assert states(ec2, [same]) == {same: "running"}


def test_a_refused_type_starts_the_instance_again_with_its_old_type(
    key: str, ec2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iid = launch(ec2, tags={key: "office"})[0]
    adapter = Ec2Adapter(REGION, wait_delay=1, wait_attempts=5)

    def refuse(**params: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InvalidParameterValue", "Message": "Invalid value 't9.huge' for instanceType."}},
            "ModifyInstanceAttribute",
        )

    monkeypatch.setattr(adapter.client, "modify_instance_attribute", refuse)

    result = adapter.resize(ec2_resource(iid), "t9.huge")

    assert not result.ok
    assert result.error is not None
    assert "could not change the type to t9.huge: InvalidParameterValue" in result.error
    assert result.error.endswith("started again as t3.micro")
    inst = describe(ec2, [iid])[iid]
    assert (inst["InstanceType"], inst["State"]["Name"]) == ("t3.micro", "running")


def test_resize_of_an_unknown_instance_is_an_error(aws: str) -> None:
    result = Ec2Adapter(REGION).resize(ec2_resource("i-0fedcba9876543210"), "t3.large")
    assert not result.ok and result.error == f"EC2 instance 'i-0fedcba9876543210' not found in {REGION}"


# --- EC2 tags --------------------------------------------------------------------------------------------------


def test_set_tags_groups_identical_tag_sets_into_batched_calls(key: str, ec2: Any) -> None:
    ids = launch(ec2, 8, tags={key: "office"})
    adapter = Ec2Adapter(REGION, tag_batch_size=2)
    calls = record(adapter.client, "ec2.CreateTags")
    wanted = {i: {"isched:last-action": "stop"} for i in ids[:5]}
    wanted |= {i: {"isched:last-action": "start"} for i in ids[5:7]}
    wanted[ids[7]] = {"isched:last-action": "stop", "isched:last-error": "none"}

    results = adapter.set_tags(wanted)

    assert [r.resource for r in results] == list(wanted)
    assert all(r.ok for r in results)
    # 5 ids with one tag set at 2 per call = 3 calls; 2 ids = 1 call; the odd one out = 1 call.
    assert len(calls) == 5
    assert all(len(c["Resources"]) <= 2 for c in calls)
    for iid, inst in describe(ec2, ids).items():
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        assert tags == {key: "office", **wanted[iid]}


# --- Auto Scaling ----------------------------------------------------------------------------------------------


def _group(
    ec2: Any,
    autoscaling: Any,
    name: str,
    *,
    tags: dict[str, str] | None = None,
    sizes: tuple[int, int, int] = (1, 3, 2),
    propagate: bool = False,
    instance_type: str = "t3.small",
    launch_configuration: bool = False,
) -> None:
    """An Auto Scaling group with sizes (min, max, desired), launching ``instance_type``."""
    params: dict[str, Any] = {}
    if launch_configuration:
        autoscaling.create_launch_configuration(LaunchConfigurationName=name, ImageId=AMI, InstanceType=instance_type)
        params["LaunchConfigurationName"] = name
    else:
        ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData={"ImageId": AMI, "InstanceType": instance_type}
        )
        params["LaunchTemplate"] = {"LaunchTemplateName": name, "Version": "$Latest"}
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=sizes[0],
        MaxSize=sizes[1],
        DesiredCapacity=sizes[2],
        AvailabilityZones=[AZ],
        Tags=[
            {
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "Key": k,
                "Value": v,
                "PropagateAtLaunch": propagate,
            }
            for k, v in (tags or {}).items()
        ],
        **params,
    )


def _state(autoscaling: Any, name: str) -> tuple[dict[str, int], dict[str, str]]:
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    sizes = {"min": group["MinSize"], "max": group["MaxSize"], "desired": group["DesiredCapacity"]}
    return sizes, {t["Key"]: t["Value"] for t in group.get("Tags", [])}


def _asg_resource(name: str) -> Resource:
    return Resource(service="asg", id=name, schedule="office", observed=Observed.RUNNING)


def test_asg_discovery_by_tag_with_pagination(key: str, ec2: Any, autoscaling: Any) -> None:
    prefix = f"asg-{_uid()}"
    for n in range(4):
        _group(ec2, autoscaling, f"{prefix}-{n}", tags={key: " office "}, sizes=(0, 2, 1))
    _group(ec2, autoscaling, f"{prefix}-lc", tags={key: "office"}, launch_configuration=True, instance_type="c5.large")
    _group(ec2, autoscaling, f"{prefix}-off", tags={key: "office", SAVED_CAPACITY_TAG: "min=1,max=3,desired=2"})
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=f"{prefix}-off", MinSize=0, MaxSize=0, DesiredCapacity=0)
    _group(ec2, autoscaling, f"{prefix}-untagged")
    adapter = AsgAdapter(REGION, page_size=2)
    calls = record(adapter.client, "autoscaling.DescribeAutoScalingGroups")

    found = {r.id: r for r in adapter.discover(key)}

    assert set(found) == {f"{prefix}-{n}" for n in range(4)} | {f"{prefix}-lc", f"{prefix}-off"}
    assert len(calls) >= 3 and all(c["MaxRecords"] == 2 for c in calls)
    first = found[f"{prefix}-0"]
    assert (first.service, first.schedule, first.observed) == ("asg", "office", Observed.RUNNING)
    assert first.arn is not None and first.arn.endswith(f":autoScalingGroupName/{prefix}-0")
    assert first.instance_type == "t3.small"
    assert {k: first.details[k] for k in ("min", "max", "desired")} == {"min": 0, "max": 2, "desired": 1}
    assert first.details["instance_types"] == ["t3.small"]
    assert "saved_capacity" not in first.details
    assert found[f"{prefix}-lc"].instance_type == "c5.large"
    off = found[f"{prefix}-off"]
    assert off.observed == Observed.STOPPED
    assert off.details["saved_capacity"] == {"min": 1, "max": 3, "desired": 2}
    assert off.instance_type == "t3.small"  # from the template, though nothing runs


def test_asg_stop_saves_the_sizes_in_a_tag_first_and_start_restores_them(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(1, 3, 2))
    adapter = AsgAdapter(REGION)
    order: list[str] = []
    for op in ("CreateOrUpdateTags", "UpdateAutoScalingGroup"):
        adapter.client.meta.events.register(f"before-call.autoscaling.{op}", lambda op=op, **_: order.append(op))

    [stopped] = adapter.stop(adapter.discover(key))

    assert stopped.ok, stopped.error
    assert stopped.details["saved_capacity"] == {"min": 1, "max": 3, "desired": 2}
    assert order == ["CreateOrUpdateTags", "UpdateAutoScalingGroup"]
    sizes, tags = _state(autoscaling, name)
    assert sizes == {"min": 0, "max": 0, "desired": 0}
    assert tags[SAVED_CAPACITY_TAG] == "min=1,max=3,desired=2"
    assert [r.observed for r in adapter.discover(key)] == [Observed.STOPPED]

    [started] = adapter.start(adapter.discover(key), saved={name: stopped.details["saved_capacity"]})

    assert started.ok, started.error
    assert _state(autoscaling, name)[0] == {"min": 1, "max": 3, "desired": 2}


def test_asg_start_falls_back_to_the_tag_when_the_table_lost_the_sizes(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(2, 4, 3))
    adapter = AsgAdapter(REGION)
    assert adapter.stop([_asg_resource(name)])[0].ok

    [started] = adapter.start([_asg_resource(name)], saved={})

    assert started.ok and started.details["saved_capacity"] == {"min": 2, "max": 4, "desired": 3}
    assert _state(autoscaling, name)[0] == {"min": 2, "max": 4, "desired": 3}


def test_asg_start_prefers_the_stored_sizes_and_skips_unusable_ones(key: str, ec2: Any, autoscaling: Any) -> None:
    first, second = f"asg-{_uid()}", f"asg-{_uid()}"
    for name in (first, second):
        _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(1, 3, 2))
    adapter = AsgAdapter(REGION)
    adapter.stop([_asg_resource(first), _asg_resource(second)])

    results = adapter.start(
        [_asg_resource(first), _asg_resource(second)],
        saved={
            first: {"saved_capacity": {"min": 0, "max": 5, "desired": 4}},
            second: {"min": 3, "max": 1, "desired": 2},  # min > max: the tag is used instead
        },
    )

    assert all(r.ok for r in results)
    assert _state(autoscaling, first)[0] == {"min": 0, "max": 5, "desired": 4}
    assert _state(autoscaling, second)[0] == {"min": 1, "max": 3, "desired": 2}


def test_asg_start_without_saved_sizes_is_an_error(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(0, 0, 0))
    adapter = AsgAdapter(REGION)

    [result] = adapter.start(adapter.discover(key), saved={})

    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"cannot start Auto Scaling group '{name}': no sizes were saved")
    assert _state(autoscaling, name)[0] == {"min": 0, "max": 0, "desired": 0}


def test_asg_size_changed_while_running_is_what_the_next_stop_saves(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(1, 3, 2))
    adapter = AsgAdapter(REGION)
    discovered = adapter.discover(key)  # sizes as discovered: 1/3/2
    saved = adapter.stop(discovered)[0].details["saved_capacity"]
    adapter.start(discovered, saved={name: saved})
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=6, DesiredCapacity=4)

    [stopped] = adapter.stop(discovered)  # stale resource details: the sizes are read at stop time

    assert stopped.details["saved_capacity"] == {"min": 2, "max": 6, "desired": 4}
    assert _state(autoscaling, name)[1][SAVED_CAPACITY_TAG] == "min=2,max=6,desired=4"
    [started] = adapter.start(discovered, saved={name: stopped.details["saved_capacity"]})
    assert started.ok
    assert _state(autoscaling, name)[0] == {"min": 2, "max": 6, "desired": 4}


def test_asg_stop_of_a_stopped_group_keeps_its_saved_sizes(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(1, 3, 2))
    adapter = AsgAdapter(REGION)
    adapter.stop([_asg_resource(name)])

    [again] = adapter.stop([_asg_resource(name)])

    assert again.ok and again.details == {"already_stopped": True, "saved_capacity": {"min": 1, "max": 3, "desired": 2}}
    assert _state(autoscaling, name)[1][SAVED_CAPACITY_TAG] == "min=1,max=3,desired=2"


def test_asg_start_leaves_a_group_started_by_hand_alone(key: str, ec2: Any, autoscaling: Any) -> None:
    name = f"asg-{_uid()}"
    _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(1, 2, 1))

    [result] = AsgAdapter(REGION).start([_asg_resource(name)], saved={name: {"min": 3, "max": 5, "desired": 4}})

    assert result.ok and result.details["already_running"] is True
    assert _state(autoscaling, name)[0] == {"min": 1, "max": 2, "desired": 1}


def test_asg_unknown_group_and_resize(aws: str) -> None:
    adapter = AsgAdapter(REGION)
    name = f"asg-missing-{_uid()}"
    assert adapter.stop([_asg_resource(name)])[0].error == f"Auto Scaling group '{name}' not found in {REGION}"
    assert (
        adapter.start([_asg_resource(name)], saved={})[0].error == f"Auto Scaling group '{name}' not found in {REGION}"
    )
    resized = adapter.resize(_asg_resource(name), "t3.large")
    assert not resized.ok and resized.error == "resize is not supported for Auto Scaling groups"


def test_asg_set_tags_batches_whole_groups(key: str, ec2: Any, autoscaling: Any) -> None:
    names = [f"asg-{_uid()}" for _ in range(3)]
    for name in names:
        _group(ec2, autoscaling, name, tags={key: "office"}, sizes=(0, 1, 0))
    adapter = AsgAdapter(REGION, batch_size=4)
    calls = record(adapter.client, "autoscaling.CreateOrUpdateTags")
    wanted = {n: {"isched:last-action": "stop", "isched:last-error": ""} for n in names}

    results = adapter.set_tags(wanted)

    assert all(r.ok for r in results)
    assert [len(c["Tags"]) for c in calls] == [4, 2]  # two groups of two tags fit in 4; a group is never split
    for name in names:
        assert _state(autoscaling, name)[1] == {key: "office", **wanted[name]}
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[names[0]])["AutoScalingGroups"][0]
    assert all(not t["PropagateAtLaunch"] for t in group["Tags"] if t["Key"].startswith("isched:"))


def test_parse_capacity() -> None:
    assert parse_capacity("min=1,max=3,desired=2") == {"min": 1, "max": 3, "desired": 2}
    assert parse_capacity(" desired = 0 , MIN=0,max=4") == {"min": 0, "max": 4, "desired": 0}
    for bad in ("min=1,max=3", "min=1,max=3,desired=x", "min=2,max=1,desired=1", "min=-1,max=1,desired=0", "junk"):
        with pytest.raises(CapacityError):
            parse_capacity(bad)


def test_a_stop_records_the_volumes_and_elastic_ips_that_keep_billing(ec2: Any, key: str) -> None:
    with_eip, plain = launch(ec2, 2, tags={key: "office"})
    extra = ec2.create_volume(
        AvailabilityZone=describe(ec2, [with_eip])[with_eip]["Placement"]["AvailabilityZone"],
        Size=200,
        VolumeType="st1",
    )["VolumeId"]
    ec2.attach_volume(VolumeId=extra, InstanceId=with_eip, Device="/dev/sdf")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=allocation, InstanceId=with_eip)
    adapter = Ec2Adapter(REGION)
    found = {r.id: r for r in adapter.discover(key)}
    results = {r.resource: r for r in adapter.stop([found[with_eip], found[plain]])}
    assert all(r.ok for r in results.values())
    # What AWS itself says is attached, read independently.
    attached = {
        i: sorted(
            (v["Size"], v["VolumeType"])
            for v in ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [i]}])["Volumes"]
        )
        for i in (with_eip, plain)
    }
    for iid, eips in ((with_eip, 1), (plain, 0)):
        billing = results[iid].details["billing_while_stopped"]
        assert sorted((v["size_gb"], v["type"]) for v in billing["volumes"]) == attached[iid]
        assert billing["elastic_ips"] == eips
    assert (200, "st1") in attached[with_eip]
