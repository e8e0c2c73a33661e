"""What RDS refuses to stop: such DB instances and clusters are marked ``unschedulable`` at discovery, with the
reason, so users read why in the report instead of a raw AWS error on every pass."""

from __future__ import annotations

from typing import Any

from scheduler.services.pricing import cluster_family

# Aurora engine modes that cannot be stopped (Aurora user guide, "Stopping and starting an Aurora DB cluster",
# limitations; the same list is in the AWS-StartStopAuroraCluster runbook).
_UNSTOPPABLE_ENGINE_MODES = {
    "serverless": "an Aurora Serverless v1 cluster (engine mode serverless)",
    "multimaster": "an Aurora multi-master cluster",
    "parallelquery": "an Aurora cluster using parallel query (engine mode parallelquery)",
}


def instance_unschedulable(db: dict[str, Any]) -> str | None:
    """Why RDS cannot stop this DB instance on its own, or None.

    RDS user guide, "Stopping an Amazon RDS DB instance temporarily", limitations: no read replicas, no sources of
    read replicas, no SQL Server Multi-AZ; StopDBInstance does not apply to cluster members (use StopDBCluster)
    nor to RDS Custom (API reference).
    """
    name = db["DBInstanceIdentifier"]
    engine = str(db.get("Engine") or "")
    if db.get("DBClusterIdentifier"):
        return (
            f"DB instance {name} is a member of DB cluster {db['DBClusterIdentifier']}: RDS stops and starts "
            f"cluster members only with their cluster; tag its cluster instead"
        )
    source = db.get("ReadReplicaSourceDBInstanceIdentifier") or db.get("ReadReplicaSourceDBClusterIdentifier")
    if source:
        return f"DB instance {name} is a read replica of {source}: RDS cannot stop a read replica"
    replicas = [*(db.get("ReadReplicaDBInstanceIdentifiers") or []), *(db.get("ReadReplicaDBClusterIdentifiers") or [])]
    if replicas:
        return (
            f"DB instance {name} has read replicas ({', '.join(replicas)}): RDS cannot stop a DB instance that has "
            f"read replicas"
        )
    if engine.lower().startswith("sqlserver") and db.get("MultiAZ"):
        return f"DB instance {name} is SQL Server in a Multi-AZ deployment, which RDS cannot stop"
    if engine.lower().startswith("custom-"):
        return f"DB instance {name} is an RDS Custom instance ({engine}), which StopDBInstance does not apply to"
    return None


# What a global database is called per cluster family (Aurora and Neptune: global database; DocumentDB: global
# cluster). Stopping a member is refused for Aurora (user guide, stop/start limitations); isched treats the other
# families' global members the same way rather than find out on every pass.
_GLOBAL_NAMES = {"Aurora": "Aurora global database", "Neptune": "Neptune global database"}


def cluster_unschedulable(cluster: dict[str, Any]) -> str | None:
    """Why RDS cannot stop this DB cluster, or None (Aurora user guide, stop/start limitations; Neptune and
    DocumentDB clusters stop and start with the same calls)."""
    name = cluster["DBClusterIdentifier"]
    mode = str(cluster.get("EngineMode") or "").lower()
    if mode in _UNSTOPPABLE_ENGINE_MODES:
        return f"DB cluster {name} is {_UNSTOPPABLE_ENGINE_MODES[mode]}, which RDS cannot stop"
    if cluster.get("GlobalClusterIdentifier"):
        family = cluster_family(cluster.get("Engine")) or "Aurora"
        what = _GLOBAL_NAMES.get(family, f"{family} global cluster")
        return f"DB cluster {name} is part of the {what} {cluster['GlobalClusterIdentifier']}, which RDS cannot stop"
    return None
