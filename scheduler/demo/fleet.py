"""The demo's fleet: EC2 instances, Auto Scaling groups, RDS instances, an Aurora cluster, an ECS Fargate service, a
Redshift cluster and a SageMaker notebook instance in two accounts and two regions, tagged with the same tagging code
as ``isched tag``.

No EKS node group: the embedded AWS (moto) cannot tag a node group after its creation, so every pass would report
its informational tags as failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import client
from scheduler.services import tagging

HUB_ACCOUNT = "123456789012"  # moto's default account: the hub runs with its own credentials
SPOKE_ACCOUNT = "210987654321"  # reached through the spoke role, as in a real deployment
REGIONS = ("eu-central-1", "us-east-1")
OFFICE = {"eu-central-1": "office-berlin", "us-east-1": "office-new-york"}
# An image moto serves in every region; describing images to find one costs seconds per account and region.
IMAGE = "ami-12c6146b"


@dataclass
class DemoResource:
    account: str
    region: str
    service: str
    id: str
    schedule: str
    type: str
    note: str = ""


@dataclass
class Fleet:
    sessions: dict[str, boto3.Session]
    resources: list[DemoResource] = field(default_factory=list)

    def of(self, service: str) -> list[DemoResource]:
        return [r for r in self.resources if r.service == service]


def spoke_session(base: boto3.Session, role_name: str) -> boto3.Session:
    """The spoke account's session, assumed the way the hub's worker assumes it."""
    return AccountSessions(base, role_name=role_name).session(SPOKE_ACCOUNT)


def _instances(ec2: Any, image: str, itype: str, count: int, name: str, team: str, **extra: Any) -> list[str]:
    """``count`` instances named ``name`` (Name tag) of ``team`` (Team tag), as a report groups them."""
    tags = [{"Key": "Name", "Value": name}, {"Key": "Team", "Value": team}]
    got = ec2.run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        InstanceType=itype,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        **extra,
    )
    return [i["InstanceId"] for i in got["Instances"]]


def _ecs_service(ecs: Any) -> str:
    """A Fargate service of two tasks (0.5 vCPU, 1 GB each); its id as ``isched tag`` names it."""
    ecs.create_cluster(clusterName="shop")
    task = ecs.register_task_definition(
        family="shop-web",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 1024}],
        cpu="512",
        memory="1024",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition=task, desiredCount=2, launchType="FARGATE")
    return "shop/web"


def _eks_node_group(eks: Any, account: str) -> str:
    """A managed node group of three t3.large nodes (between 1 and 5) in a cluster of its own; its id as ``isched
    tag`` names it."""
    role = f"arn:aws:iam::{account}:role/demo-eks"
    eks.create_cluster(name="platform", roleArn=role, resourcesVpcConfig={"subnetIds": []})
    eks.create_nodegroup(
        clusterName="platform",
        nodegroupName="workers",
        nodeRole=role,
        subnets=["subnet-demo"],
        instanceTypes=["t3.large"],
        scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 3},
    )
    return "platform/workers"


def build(sessions: dict[str, boto3.Session], tag_key: str) -> Fleet:
    """Creates the fleet in every account and region, then tags it by schedule."""
    fleet = Fleet(sessions)
    plan: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {}  # (account, region, schedule) -> resources
    for account, session in sessions.items():
        for region in REGIONS:
            ec2 = client("ec2", region=region, session=session)
            image = IMAGE
            office = OFFICE[region]
            rows: list[tuple[str, str, str, str]] = []  # (id, schedule, type, note)
            for iid in _instances(ec2, image, "m5.large", 3, "dev-box", "platform"):
                rows.append((iid, office, "m5.large", "developer box; t3.medium in the evening (Berlin)"))
            for iid in _instances(
                ec2, image, "c5.2xlarge", 2, "batch-worker", "data", HibernationOptions={"Configured": True}
            ):
                rows.append((iid, "batch-nights", "c5.2xlarge", "batch worker, hibernates"))
            for iid in _instances(ec2, image, "t3.large", 2, "qa-runner", "qa"):
                rows.append((iid, "qa-enforced", "t3.large", "QA, enforced"))
            for iid in _instances(ec2, image, "r5.xlarge", 1, "staging-app", "platform"):
                rows.append((iid, "weekdays-only", "r5.xlarge", "staging"))
            for iid, schedule, itype, note in rows:
                fleet.resources.append(DemoResource(account, region, "ec2", iid, schedule, itype, note))
                plan.setdefault((account, region, schedule), []).append(("ec2", iid, itype))
            asg_name = f"web-{region}"
            lt = ec2.create_launch_template(
                LaunchTemplateName=f"demo-{region}", LaunchTemplateData={"ImageId": image, "InstanceType": "t3.small"}
            )["LaunchTemplate"]["LaunchTemplateId"]
            zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
            client("autoscaling", region=region, session=session).create_auto_scaling_group(
                AutoScalingGroupName=asg_name,
                LaunchTemplate={"LaunchTemplateId": lt},
                MinSize=2,
                MaxSize=6,
                DesiredCapacity=3,
                AvailabilityZones=[zone],
            )
            fleet.resources.append(DemoResource(account, region, "asg", asg_name, "weekdays-only", "t3.small", "3×"))
            plan.setdefault((account, region, "weekdays-only"), []).append(("asg", asg_name, "t3.small"))
            rds = client("rds", region=region, session=session)
            db = f"orders-{region}"
            rds.create_db_instance(
                DBInstanceIdentifier=db,
                Engine="postgres",
                DBInstanceClass="db.m5.large",
                AllocatedStorage=50,
                MasterUsername="demo",
                MasterUserPassword="demo-password-1",
                MultiAZ=region == "us-east-1",
            )
            fleet.resources.append(DemoResource(account, region, "rds", db, office, "db.m5.large", "PostgreSQL"))
            plan.setdefault((account, region, office), []).append(("rds", db, "db.m5.large"))
            if account == HUB_ACCOUNT and region == REGIONS[0]:
                rds.create_db_cluster(
                    DBClusterIdentifier="analytics",
                    Engine="aurora-postgresql",
                    MasterUsername="demo",
                    MasterUserPassword="demo-password-1",
                )
                rds.create_db_instance(
                    DBInstanceIdentifier="analytics-1",
                    DBClusterIdentifier="analytics",
                    Engine="aurora-postgresql",
                    DBInstanceClass="db.r6g.large",
                )
                fleet.resources.append(
                    DemoResource(account, region, "rds", "analytics", "weekdays-only", "db.r6g.large", "Aurora")
                )
                plan.setdefault((account, region, "weekdays-only"), []).append(("rds", "analytics", "db.r6g.large"))
                ecs_id = _ecs_service(client("ecs", region=region, session=session))
                label = "Fargate 0.5 vCPU 1 GB"
                fleet.resources.append(DemoResource(account, region, "ecs", ecs_id, office, label, "2 tasks"))
                plan.setdefault((account, region, office), []).append(("ecs", ecs_id, label))
                client("redshift", region=region, session=session).create_cluster(
                    ClusterIdentifier="warehouse",
                    NodeType="ra3.xlplus",
                    ClusterType="multi-node",
                    NumberOfNodes=2,
                    MasterUsername="demo",
                    MasterUserPassword="Demo-password-1",
                )
                fleet.resources.append(
                    DemoResource(account, region, "redshift", "warehouse", "weekdays-only", "ra3.xlplus", "2 nodes")
                )
                plan.setdefault((account, region, "weekdays-only"), []).append(("redshift", "warehouse", "ra3.xlplus"))
                client("sagemaker", region=region, session=session).create_notebook_instance(
                    NotebookInstanceName="research",
                    InstanceType="ml.t3.medium",
                    RoleArn=f"arn:aws:iam::{account}:role/demo-notebooks",
                    VolumeSizeInGB=20,
                )
                fleet.resources.append(
                    DemoResource(account, region, "sagemaker", "research", office, "ml.t3.medium", "notebook")
                )
                plan.setdefault((account, region, office), []).append(("sagemaker", "research", "ml.t3.medium"))
                eks_id = _eks_node_group(client("eks", region=region, session=session), account)
                fleet.resources.append(DemoResource(account, region, "eks", eks_id, office, "t3.large", "3 nodes"))
                plan.setdefault((account, region, office), []).append(("eks", eks_id, "t3.large"))
    for (account, region, schedule), items in plan.items():
        clients = tagging.Clients(sessions[account])
        targets = [tagging.parse_target(rid, region) for _, rid, _ in items]
        outcomes = tagging.tag_targets(targets, tag_key, schedule, clients)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"demo tagging failed: {failed[0].resource}: {failed[0].error}")
    return fleet
