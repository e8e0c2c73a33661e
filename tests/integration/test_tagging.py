"""``isched tag`` / ``isched untag`` against a moto server: real EC2 instances, Auto Scaling groups, RDS instances and
Aurora clusters, tagged by id, name and ARN, with the tags read back through describe calls.

Every test makes its own resources (unique names, unique tag values), so tests sharing a moto server never see each
other's resources.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
import pytest

from scheduler.aws import session
from scheduler.cli import tagging as tag_cli
from scheduler.services import asg, ec2, tagging
from tests.conftest import Result as BaseResult

AMI = "ami-12c6146b"  # one of the AMIs moto serves in every region
HOME = "us-east-1"  # the region the `aws` fixture makes the default
AWAY = "eu-west-1"


@dataclass
class Result(BaseResult):
    """The shared CLI result, plus the tag results keyed by the RESOURCE argument."""

    def by_resource(self) -> dict[str, dict[str, Any]]:
        return {r["resource"]: r for r in self.json()["results"]}


@pytest.fixture
def cli(aws: str, monkeypatch: pytest.MonkeyPatch, run: Callable[..., BaseResult]) -> Callable[..., Result]:
    """Runs the real ``isched ARGS`` entry point in-process (stdin from ``input``); every schedule name counts as
    stored here (the real lookup against the configuration table is tested in test_config_store.py)."""
    monkeypatch.delenv("ISCHED_TAG_KEY", raising=False)
    monkeypatch.setattr(tag_cli, "schedule_exists", lambda _ctx, _name: True)

    def _run(*args: str, input: str | None = None) -> Result:
        done = run(*args, input=input)
        return Result(done.code, done.out, done.err)

    return _run


@functools.cache
def client(service: str, region: str) -> Any:
    """Test-side clients, made once: building a client costs more than most moto calls."""
    return session.client(service, region)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


@dataclass
class World:
    """Creates real resources in moto and reads their tags back."""

    def instance(self, region: str = HOME, tags: dict[str, str] | None = None) -> str:
        extra: dict[str, Any] = {}
        if tags:
            extra["TagSpecifications"] = [{"ResourceType": "instance", "Tags": _tag_list(tags)}]
        r = client("ec2", region).run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", **extra)
        return str(r["Instances"][0]["InstanceId"])

    def instance_arn(self, iid: str, region: str = HOME) -> str:
        reservation = client("ec2", region).describe_instances(InstanceIds=[iid])["Reservations"][0]
        return f"arn:aws:ec2:{region}:{reservation['OwnerId']}:instance/{iid}"

    def asg(self, name: str, region: str = HOME, tags: dict[str, str] | None = None) -> str:
        client("ec2", region).create_launch_template(
            LaunchTemplateName=f"{name}-lt", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
        )
        asg = client("autoscaling", region)
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{name}-lt"},
            MinSize=0,
            MaxSize=1,
            DesiredCapacity=0,
            AvailabilityZones=[f"{region}a"],
            Tags=[
                {"ResourceId": name, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False, **t}
                for t in _tag_list(tags)
            ],
        )
        return str(
            asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
                "AutoScalingGroupARN"
            ]
        )

    def db(self, ident: str, region: str = HOME, tags: dict[str, str] | None = None, cluster: str | None = None) -> str:
        rds = client("rds", region)
        if cluster:
            r = rds.create_db_instance(
                DBInstanceIdentifier=ident,
                Engine="aurora-postgresql",
                DBInstanceClass="db.r5.large",
                DBClusterIdentifier=cluster,
                Tags=_tag_list(tags),
            )
        else:
            r = rds.create_db_instance(
                DBInstanceIdentifier=ident,
                Engine="postgres",
                DBInstanceClass="db.t3.micro",
                AllocatedStorage=20,
                MasterUsername="admin1",
                MasterUserPassword="not-a-secret-1",
                Tags=_tag_list(tags),
            )
        return str(r["DBInstance"]["DBInstanceArn"])

    def cluster(self, ident: str, region: str = HOME, tags: dict[str, str] | None = None) -> str:
        r = client("rds", region).create_db_cluster(
            DBClusterIdentifier=ident,
            Engine="aurora-postgresql",
            MasterUsername="admin1",
            MasterUserPassword="not-a-secret-1",
            Tags=_tag_list(tags),
        )
        return str(r["DBCluster"]["DBClusterArn"])

    def tags(self, kind: str, ident: str, region: str = HOME) -> dict[str, str]:
        if kind == "ec2":
            res = client("ec2", region).describe_instances(InstanceIds=[ident])["Reservations"]
            raw = res[0]["Instances"][0].get("Tags", [])
        elif kind == "asg":
            groups = client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[ident])
            raw = groups["AutoScalingGroups"][0].get("Tags", [])
            # Propagated to the group's instances, so that Cost Explorer allocates their cost to the tag.
            assert all(t["PropagateAtLaunch"] is True for t in raw if t["Key"] == "Schedule")
        elif kind == "rds":
            raw = client("rds", region).describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["TagList"]
        else:
            raw = client("rds", region).describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"][0]["TagList"]
        return {t["Key"]: t["Value"] for t in raw}


@pytest.fixture
def world(aws: str) -> World:
    return World()


@pytest.fixture
def fleet(world: World) -> Iterator[dict[str, Any]]:
    """One resource of each kind in the home region."""
    names = {"asg": uid("web"), "rds": uid("db"), "rds-cluster": uid("aurora")}
    iid = world.instance()
    yield {
        "ids": {"ec2": iid, **names},
        "arns": {
            "ec2": world.instance_arn(iid),
            "asg": world.asg(names["asg"]),
            "rds": world.db(names["rds"]),
            "rds-cluster": world.cluster(names["rds-cluster"]),
        },
    }


KINDS = ("ec2", "asg", "rds", "rds-cluster")


# --- by id and name, then untag ---------------------------------------------------------------------------------


def test_tag_and_untag_every_kind_by_id_and_name(cli, world, fleet):
    ids, arns = fleet["ids"], fleet["arns"]
    r = cli("tag", *[ids[k] for k in KINDS], "--schedule", "office", "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["tag_key"] == "Schedule" and body["schedule"] == "office"
    assert [x["resource"] for x in body["results"]] == [ids[k] for k in KINDS]  # input order kept
    for kind in KINDS:
        res = r.by_resource()[ids[kind]]
        assert res == {
            "resource": ids[kind],
            "kind": kind,
            "id": ids[kind],
            "arn": arns[kind],
            "region": HOME,
            "ok": True,
            "error": None,
            "previous": None,
        }
        assert world.tags(kind, ids[kind])["Schedule"] == "office"

    # Re-tagging overwrites and reports the old value.
    r = cli("tag", ids["ec2"], ids["asg"], "--schedule", "nights", "--json")
    assert r.code == 0 and {x["previous"] for x in r.json()["results"]} == {"office"}
    assert world.tags("asg", ids["asg"])["Schedule"] == "nights"

    r = cli("untag", *[ids[k] for k in KINDS], "--json")
    assert r.code == 0, r.err
    assert r.json()["schedule"] is None
    assert all(x["ok"] for x in r.json()["results"])
    for kind in KINDS:
        assert "Schedule" not in world.tags(kind, ids[kind])

    # Untagging what has no tag is done, not an error.
    r = cli("untag", ids["rds"], "--json")
    assert r.code == 0 and r.json()["results"][0]["ok"] is True and r.json()["results"][0]["previous"] is None


def test_rds_identifiers_are_case_insensitive(cli, world, fleet):
    ident = fleet["ids"]["rds"]
    r = cli("tag", ident.upper(), "--schedule", "office", "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["id"] == ident
    assert world.tags("rds", ident)["Schedule"] == "office"


def test_tag_every_kind_by_arn(cli, world, fleet):
    ids, arns = fleet["ids"], fleet["arns"]
    r = cli("tag", *[arns[k] for k in KINDS], "--schedule", "office", "--json")
    assert r.code == 0, r.err
    for kind in KINDS:
        res = r.by_resource()[arns[kind]]
        assert res["ok"] and res["kind"] == kind and res["id"] == ids[kind] and res["arn"] == arns[kind]
        assert world.tags(kind, ids[kind])["Schedule"] == "office"

    r = cli("untag", *[arns[k] for k in KINDS], "--json")
    assert r.code == 0, r.err
    for kind in KINDS:
        assert "Schedule" not in world.tags(kind, ids[kind])


def test_same_resource_named_twice_is_tagged_once_and_reported_twice(cli, world, fleet):
    ids, arns = fleet["ids"], fleet["arns"]
    r = cli("tag", ids["asg"], arns["asg"], "--schedule", "office", "--json")
    assert r.code == 0, r.err
    assert [x["ok"] for x in r.json()["results"]] == [True, True]
    assert world.tags("asg", ids["asg"])["Schedule"] == "office"


# --- regions ---------------------------------------------------------------------------------------------------


def test_region_option_and_an_arn_region_wins(cli, world):
    away_iid = world.instance(AWAY)
    away_asg = uid("away")
    world.asg(away_asg, AWAY)
    away_db = uid("awaydb")
    away_db_arn = world.db(away_db, AWAY)
    home_iid = world.instance(HOME)

    # A plain id is looked up in the default region only.
    r = cli("tag", away_iid, "--schedule", "office", "--json")
    assert r.code == 1
    res = r.json()["results"][0]
    assert res["ok"] is False and res["region"] == HOME and f"'{away_iid}' not found in {HOME}" in res["error"]

    r = cli("tag", away_iid, away_asg, "--region", AWAY, "--schedule", "office", "--json")
    assert r.code == 0, r.err
    assert {x["region"] for x in r.json()["results"]} == {AWAY}
    assert world.tags("ec2", away_iid, AWAY)["Schedule"] == "office"
    assert world.tags("asg", away_asg, AWAY)["Schedule"] == "office"

    # An ARN's region beats --region (and the default region), each resource in its own region.
    away_arn = world.instance_arn(away_iid, AWAY)
    r = cli("tag", away_db_arn, "--region", "ap-southeast-2", "--schedule", "nights", "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["region"] == AWAY
    assert world.tags("rds", away_db, AWAY)["Schedule"] == "nights"
    r = cli("tag", away_db_arn, home_iid, "--schedule", "nights", "--json")
    assert r.code == 0, r.err
    assert [x["region"] for x in r.json()["results"]] == [AWAY, HOME]
    assert world.tags("ec2", home_iid)["Schedule"] == "nights"

    r = cli("untag", away_arn, "--region", HOME, "--json")
    assert r.code == 0, r.err
    assert "Schedule" not in world.tags("ec2", away_iid, AWAY)


# --- --where ---------------------------------------------------------------------------------------------------


def test_where_with_yes_tags_every_match_in_the_region(cli, world):
    team = uid("team")
    match = {"team": team}
    iid = world.instance(tags=match)
    group = uid("grp")
    world.asg(group, tags=match)
    db = uid("db")
    world.db(db, tags=match)
    aurora = uid("aurora")
    world.cluster(aurora, tags=match)
    world.db(uid("member"), tags=match, cluster=aurora)  # reached through its cluster, not listed on its own
    # Not matches: another value, the key on one tag and the value on another, another region, a terminated instance.
    other = world.instance(tags={"team": uid("other")})
    crossed = uid("crossed")
    world.asg(crossed, tags={"team": "x", "owner": team})
    world.instance(AWAY, tags=match)
    gone = world.instance(tags=match)
    client("ec2", HOME).terminate_instances(InstanceIds=[gone])

    r = cli("tag", "--where", f"team={team}", "--schedule", "office", "--yes", "--json")
    assert r.code == 0, r.err
    got = {(x["kind"], x["id"]) for x in r.json()["results"]}
    assert got == {("ec2", iid), ("asg", group), ("rds", db), ("rds-cluster", aurora)}
    assert all(x["ok"] and x["resource"] == x["id"] for x in r.json()["results"])
    for kind, ident in got:
        assert world.tags(kind, ident)["Schedule"] == "office"
    assert "Schedule" not in world.tags("ec2", other)
    assert "Schedule" not in world.tags("asg", crossed)


def test_where_in_json_without_yes_is_refused_before_anything_is_written(cli, world):
    team = uid("team")
    iid = world.instance(tags={"team": team})
    r = cli("tag", "--where", f"team={team}", "--schedule", "office", "--json")
    assert r.code == 2
    assert "--yes" in r.err and "--json" in r.err
    assert "Schedule" not in world.tags("ec2", iid)


def test_where_asks_first_and_a_no_writes_nothing(cli, world):
    team = uid("team")
    group = uid("grp")
    world.asg(group, tags={"team": team})

    r = cli("tag", "--where", f"team={team}", "--schedule", "office", input="n\n")
    assert r.code == 1
    assert group in r.out and "Tag these 1 resource(s) with Schedule=office?" in r.out
    assert "Schedule" not in world.tags("asg", group)

    r = cli("tag", "--where", f"team={team}", "--schedule", "office", input="y\n")
    assert r.code == 0, r.err
    assert "1 of 1 resource(s) tagged Schedule=office" in r.out
    assert world.tags("asg", group)["Schedule"] == "office"


def test_where_without_matches_does_nothing(cli):
    r = cli("tag", "--where", f"team={uid('nobody')}", "--schedule", "office", "--yes", "--json")
    assert r.code == 0 and r.json() == {"tag_key": "Schedule", "schedule": "office", "results": []}
    r = cli("tag", "--where", f"team={uid('nobody')}", "--schedule", "office")
    assert r.code == 0 and "nothing to tag" in r.out


# --- per-resource errors ---------------------------------------------------------------------------------------


def test_not_found_and_ambiguous_fail_alone_and_the_rest_is_tagged(cli, world, fleet):
    ids = fleet["ids"]
    twin = uid("twin")
    world.asg(twin)
    world.db(twin)  # the same name as an Auto Scaling group and an RDS DB instance
    missing = uid("missing")
    ghost = "i-0123456789abcdef0"
    lone_db = uid("lonedb")
    missing_cluster_arn = f"arn:aws:rds:{HOME}:123456789012:cluster:{lone_db}"
    world.db(lone_db)  # an instance of that name exists, but the ARN asks for a cluster

    r = cli("tag", ids["ec2"], twin, missing, ghost, missing_cluster_arn, ids["asg"], "--schedule", "office", "--json")
    assert r.code == 1
    res = r.by_resource()
    assert res[ids["ec2"]]["ok"] and res[ids["asg"]]["ok"]
    assert world.tags("ec2", ids["ec2"])["Schedule"] == "office"
    assert world.tags("asg", ids["asg"])["Schedule"] == "office"

    assert res[twin]["ok"] is False and res[twin]["kind"] is None
    assert f"'{twin}' is ambiguous in {HOME}" in res[twin]["error"]
    assert "an Auto Scaling group and an RDS DB instance" in res[twin]["error"] and "ARN" in res[twin]["error"]
    assert "Schedule" not in world.tags("asg", twin) and "Schedule" not in world.tags("rds", twin)

    assert res[missing]["ok"] is False and f"'{missing}' not found in {HOME}" in res[missing]["error"]
    assert res[ghost]["kind"] == "ec2" and f"EC2 instance '{ghost}' not found" in res[ghost]["error"]
    assert res[missing_cluster_arn]["kind"] == "rds-cluster"
    assert f"RDS DB cluster '{lone_db}' not found" in res[missing_cluster_arn]["error"]
    assert "Schedule" not in world.tags("rds", lone_db)
    # Every failure is spelled out on stderr too.
    assert twin in r.err and missing in r.err and ghost in r.err


def test_ambiguous_name_is_tagged_through_its_arn(cli, world):
    twin = uid("twin")
    world.asg(twin)
    cluster_arn = world.cluster(twin)
    r = cli("tag", cluster_arn, "--schedule", "office", "--json")
    assert r.code == 0, r.err
    assert world.tags("rds-cluster", twin)["Schedule"] == "office"
    assert "Schedule" not in world.tags("asg", twin)


def test_aurora_member_instance_is_refused_in_favour_of_its_cluster(cli, world):
    aurora = uid("aurora")
    world.cluster(aurora)
    member = uid("member")
    world.db(member, cluster=aurora)
    r = cli("tag", member, aurora, "--schedule", "office", "--json")
    assert r.code == 1
    res = r.by_resource()
    assert res[aurora]["ok"] and not res[member]["ok"]
    assert f"belongs to DB cluster '{aurora}'" in res[member]["error"] and "tag the cluster" in res[member]["error"]
    # Named on its own it is refused; as a member of the tagged cluster it carries the tag (cost allocation).
    assert world.tags("rds", member)["Schedule"] == "office"
    # Removing a tag from a member is always allowed.
    assert cli("untag", member, "--json").code == 0


def test_arn_of_another_account_or_a_terminated_instance_fails(cli, world):
    iid = world.instance()
    foreign = f"arn:aws:ec2:{HOME}:999999999999:instance/{iid}"
    gone = world.instance()
    client("ec2", HOME).terminate_instances(InstanceIds=[gone])
    r = cli("tag", foreign, gone, "--schedule", "office", "--json")
    assert r.code == 1
    res = r.by_resource()
    assert "account 999999999999" in res[foreign]["error"]
    assert f"'{gone}' is terminated" in res[gone]["error"]
    assert "Schedule" not in world.tags("ec2", iid)


def test_human_output_lists_results_and_errors(cli, world, fleet):
    ids = fleet["ids"]
    missing = uid("missing")
    r = cli("tag", ids["asg"], missing, "--schedule", "office")
    assert r.code == 1
    assert ids["asg"] in r.out and "tagged" in r.out and "Auto Scaling group" in r.out
    assert "1 of 2 resource(s) tagged Schedule=office" in r.out
    assert f"error: {missing}: '{missing}' not found in {HOME}" in r.err


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["tag", "--schedule", "office"], "RESOURCE: give at least one RESOURCE, or --where KEY=VALUE"),
        (["tag", "--where", "foo", "--schedule", "office", "--yes"], "--where: 'foo' is not KEY=VALUE"),
        (["tag", "--where", "=dev", "--schedule", "office", "--yes"], "--where: '=dev' is not KEY=VALUE"),
        (["tag", "web", "--where", "a=b", "--schedule", "office"], "--where: 'a=b' cannot be combined"),
        (["tag", "web", "--schedule", " "], "--schedule: the schedule name is empty"),
        (["tag", "web", "--schedule", "office", "--tag-key", "aws:x"], "--tag-key: 'aws:x' starts with 'aws:'"),
        (["tag", "web", "--schedule", "office", "--region", "mars-1"], "--region: 'mars-1' is not an AWS region"),
        (
            ["tag", "arn:aws:s3:::bucket", "--schedule", "office"],
            "RESOURCE: 'arn:aws:s3:::bucket' is an ARN of service 's3'",
        ),
        (
            ["tag", "arn:aws:ec2:us-east-1:123456789012:volume/vol-1", "--schedule", "office"],
            "is not an EC2 instance ARN",
        ),
        (["tag", "arn:aws:rds:us-east-1:123:db:x", "--schedule", "office"], "has no valid account id ('123')"),
        (["untag"], "RESOURCE: give at least one RESOURCE"),
        (["untag", "arn:nope"], "RESOURCE: 'arn:nope' is not an ARN"),
    ],
)
def test_bad_input_exits_2_naming_the_field_and_value(cli, args, needle):
    r = cli(*args)
    assert r.code == 2, (r.out, r.err)
    assert needle in r.err


def test_every_bad_resource_is_reported_and_nothing_is_written(cli, world):
    iid = world.instance()
    r = cli("tag", iid, "arn:aws:sqs:us-east-1:123456789012:q", "arn:bad", "--schedule", "office")
    assert r.code == 2
    assert "arn:aws:sqs" in r.err and "'arn:bad'" in r.err
    assert "Schedule" not in world.tags("ec2", iid)


def test_missing_schedule_option_is_a_usage_error(cli):
    assert cli("tag", "web").code == 2


# --- the stored-schedule check ---------------------------------------------------------------------------------


def test_unknown_schedule_is_refused_unless_forced(cli, world, monkeypatch):
    seen: list[str] = []

    def only_office(ctx: click.Context, name: str) -> bool:
        assert isinstance(ctx, click.Context)
        seen.append(name)
        return name == "office"

    monkeypatch.setattr(tag_cli, "schedule_exists", only_office)
    iid = world.instance()

    r = cli("tag", iid, "--schedule", "offce", "--json")
    assert r.code == 2 and seen == ["offce"]
    assert "--schedule: 'offce' is not a stored schedule (use --force to tag anyway)" in r.err
    assert "Schedule" not in world.tags("ec2", iid)

    # The check runs before any lookup: --where is refused the same way.
    r = cli("tag", "--where", "team=x", "--schedule", "offce", "--yes")
    assert r.code == 2 and "is not a stored schedule" in r.err

    r = cli("tag", iid, "--schedule", "offce", "--force", "--json")
    assert r.code == 0, r.err
    assert world.tags("ec2", iid)["Schedule"] == "offce"

    r = cli("tag", iid, "--schedule", "office", "--json")
    assert r.code == 0 and seen[-1] == "office"


# --- tag key ---------------------------------------------------------------------------------------------------


def test_tag_key_from_option_and_environment(cli, world, monkeypatch):
    iid = world.instance()
    r = cli("tag", iid, "--schedule", "office", "--tag-key", "isched-schedule", "--json")
    assert r.code == 0 and r.json()["tag_key"] == "isched-schedule"
    assert world.tags("ec2", iid) == {"isched-schedule": "office"}

    monkeypatch.setenv("ISCHED_TAG_KEY", "EnvKey")
    r = cli("tag", iid, "--schedule", "nights", "--json")
    assert r.code == 0 and r.json()["tag_key"] == "EnvKey"
    assert world.tags("ec2", iid) == {"isched-schedule": "office", "EnvKey": "nights"}
    r = cli("untag", iid, "--json")
    assert r.code == 0 and r.json()["tag_key"] == "EnvKey"
    assert world.tags("ec2", iid) == {"isched-schedule": "office"}


# --- batching (service level) ----------------------------------------------------------------------------------


def _count_calls(clients: tagging.Clients, service: str, event_service: str, region: str, op: str) -> list[dict]:
    """The parameters of every ``op`` call the client for ``service`` in ``region`` makes from now on."""
    calls: list[dict] = []
    clients.get(service, region).meta.events.register(
        f"before-parameter-build.{event_service}.{op}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def test_writes_are_batched_and_lookups_are_few(world, monkeypatch):
    monkeypatch.setattr(ec2.SERVICE, "tag_batch", 3)
    monkeypatch.setattr(asg.SERVICE, "tag_batch", 2)
    iids = [world.instance() for _ in range(7)]
    groups = [uid("batch") for _ in range(5)]
    for g in groups:
        world.asg(g)
    clients = tagging.Clients()
    creates = _count_calls(clients, "ec2", "ec2", HOME, "CreateTags")
    asg_writes = _count_calls(clients, "autoscaling", "auto-scaling", HOME, "CreateOrUpdateTags")
    asg_reads = _count_calls(clients, "autoscaling", "auto-scaling", HOME, "DescribeAutoScalingGroups")
    rds_reads = _count_calls(clients, "rds", "rds", HOME, "DescribeDBInstances")

    targets = [tagging.parse_target(v, HOME) for v in iids + groups]
    outcomes = tagging.tag_targets(targets, "Schedule", "office", clients)
    assert all(o.ok for o in outcomes)
    assert len(creates) == 3  # 7 instances in batches of 3
    assert len(asg_writes) == 3  # 5 groups in batches of 2
    assert all(t["PropagateAtLaunch"] is True for call in asg_writes for t in call["Tags"])
    assert len(asg_reads) == 1 and len(rds_reads) == 1  # all five names looked up in one call per kind
    for iid in iids:
        assert world.tags("ec2", iid)["Schedule"] == "office"
    for g in groups:
        assert world.tags("asg", g)["Schedule"] == "office"


def test_a_failing_member_of_a_batch_fails_alone(world, monkeypatch):
    monkeypatch.setattr(asg.SERVICE, "tag_batch", 25)
    groups = [uid("part") for _ in range(3)]
    for g in groups:
        world.asg(g)
    bad = groups[1]
    clients = tagging.Clients()
    calls = _count_calls(clients, "autoscaling", "auto-scaling", HOME, "CreateOrUpdateTags")

    class _Denied:
        status_code = 403

    def deny_bad(params: dict, **_: Any) -> Any:
        # Answer in AWS's place (a before-call handler's response replaces the request) for batches holding `bad`.
        if bad in params["body"].values():
            return _Denied(), {"Error": {"Code": "AccessDenied", "Message": f"not allowed on {bad}"}}
        return None

    clients.get("autoscaling", HOME).meta.events.register("before-call.auto-scaling.CreateOrUpdateTags", deny_bad)
    outcomes = tagging.tag_targets([tagging.parse_target(g, HOME) for g in groups], "Schedule", "office", clients)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error == f"AccessDenied: not allowed on {bad}"
    # The batch, then each member on its own.
    assert [[t["ResourceId"] for t in c["Tags"]] for c in calls] == [groups, [groups[0]], [bad], [groups[2]]]
    assert world.tags("asg", groups[0])["Schedule"] == "office"
    assert "Schedule" not in world.tags("asg", bad)
    assert world.tags("asg", groups[2])["Schedule"] == "office"


def test_find_where_pages_through_ec2(world, monkeypatch):
    monkeypatch.setattr(ec2.SERVICE, "page_size", 5)
    team = uid("team")
    iids = {world.instance(tags={"team": team}) for _ in range(7)}
    clients = tagging.Clients()
    pages = _count_calls(clients, "ec2", "ec2", HOME, "DescribeInstances")
    found = tagging.find_where("team", team, HOME, clients)
    assert {r.id for r in found} == iids and all(r.kind == "ec2" for r in found)
    assert len(pages) >= 2 and all(p["MaxResults"] == 5 for p in pages)


def test_find_where_failure_is_a_command_error(cli, world, monkeypatch):
    def broken(*_: Any, **__: Any) -> Any:
        raise tagging.TaggingError("could not list EC2 instances in us-east-1: UnauthorizedOperation: no")

    monkeypatch.setattr(tagging, "find_where", broken)
    r = cli("tag", "--where", "team=x", "--schedule", "office", "--yes")
    assert r.code == 1 and "could not list EC2 instances" in r.err


def test_tagging_an_aurora_cluster_tags_its_member_instances_and_the_worker_schedules_only_the_cluster(cli, world):
    """RDS bills the member instances, so they carry the cluster's schedule tag for cost allocation; the RDS worker
    then finds them tagged but schedules them only through their cluster (no error for the members)."""
    from scheduler.services.rds import RdsAdapter

    aurora = uid("aurora")
    world.cluster(aurora)
    members = [uid("member") for _ in range(2)]
    for m in members:
        world.db(m, cluster=aurora)
    r = cli("tag", aurora, "--schedule", "office", "--json")
    assert r.code == 0, r.err
    for m in members:
        assert world.tags("rds", m)["Schedule"] == "office"
    found = {res.id: res for res in RdsAdapter(HOME).discover("Schedule")}
    assert aurora in found and not found[aurora].unschedulable
    assert not set(members) & set(found)
    # A member tagged on its own (its cluster untagged) is still reported as unschedulable.
    r = cli("untag", aurora, "--json")
    assert r.code == 0, r.err
    for m in members:
        assert "Schedule" not in world.tags("rds", m)
    client("rds", HOME).add_tags_to_resource(
        ResourceName=client("rds", HOME).describe_db_instances(DBInstanceIdentifier=members[0])["DBInstances"][0][
            "DBInstanceArn"
        ],
        Tags=[{"Key": "Schedule", "Value": "office"}],
    )
    found = {res.id: res for res in RdsAdapter(HOME).discover("Schedule")}
    assert found[members[0]].unschedulable and aurora in found[members[0]].unschedulable
