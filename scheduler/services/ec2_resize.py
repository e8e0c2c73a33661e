"""Resizing an EC2 instance: stop, change the type, start; with the previous type restored when EC2 refuses the new
one, so a failed resize never leaves the instance stopped inside a running period."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from .base import ActionResult, Resource
from .common import aws_error
from .ec2_details import LIVE_STATES


class Resizer:
    """Resizes the instances of one region through ``ec2`` (the adapter's client); ``describe`` reads one instance
    by id (None when it does not exist) and ``wait_config`` bounds each wait for a state."""

    def __init__(
        self,
        ec2: Any,
        region: str,
        wait_config: Mapping[str, int],
        describe: Callable[[str], dict[str, Any] | None],
    ) -> None:
        self.client = ec2
        self.region = region
        self.wait_config = wait_config
        self._describe_one = describe

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        """Runs the instance as ``instance_type``: stop, change the type, start; only the start when it already
        has that type.

        A type EC2 refuses (unknown, incompatible with the AMI, no capacity) must not leave the instance stopped
        inside a running period: it is started again with its previous type and the result reports the error.
        """
        iid = resource.id
        try:
            inst = self._describe_one(iid)
            if inst is None:
                return ActionResult(iid, ok=False, error=f"EC2 instance '{iid}' not found in {self.region}")
            state = str(inst["State"]["Name"])
            current = str(inst.get("InstanceType", ""))
            if state not in LIVE_STATES:
                return ActionResult(iid, ok=False, error=f"EC2 instance '{iid}' is {state}")
            if current == instance_type:
                if state in ("pending", "running"):
                    return ActionResult(iid, ok=True, details={"instance_type": current, "changed": False})
                self._wait("instance_stopped", iid, state == "stopping")
                self.client.start_instances(InstanceIds=[iid])
                return ActionResult(iid, ok=True, details={"instance_type": current, "changed": False})
            self._stop_and_wait(iid, state)
        except (ClientError, BotoCoreError, WaiterError) as exc:
            return ActionResult(iid, ok=False, error=f"resize to {instance_type} failed: {_describe(exc)}")
        return self._modify_and_start(iid, current, instance_type)

    def _stop_and_wait(self, iid: str, state: str) -> None:
        # EC2 refuses to stop a pending instance; once it runs, a plain stop (a hibernated instance cannot change
        # its type).
        self._wait("instance_running", iid, state == "pending")
        if state in ("pending", "running"):
            self.client.stop_instances(InstanceIds=[iid])
        self._wait("instance_stopped", iid, state != "stopped")

    def _wait(self, waiter: str, iid: str, needed: bool = True) -> None:
        if needed:
            self.client.get_waiter(waiter).wait(InstanceIds=[iid], WaiterConfig=self.wait_config)

    def _modify_and_start(self, iid: str, previous: str, instance_type: str) -> ActionResult:
        details = {"instance_type": instance_type, "previous_instance_type": previous, "changed": True}
        try:
            self.client.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": instance_type})
        except (ClientError, BotoCoreError) as exc:
            return self._restart(iid, previous, f"could not change the type to {instance_type}: {_describe(exc)}")
        try:
            self.client.start_instances(InstanceIds=[iid])
        except (ClientError, BotoCoreError) as exc:
            # Typically InsufficientInstanceCapacity for the new type: the old one still runs where it ran.
            reason = f"could not start as {instance_type}: {_describe(exc)}"
            try:
                self.client.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": previous})
            except (ClientError, BotoCoreError) as revert:
                return ActionResult(
                    iid,
                    ok=False,
                    error=f"{reason}; reverting to {previous} failed too: {_describe(revert)}; it is stopped",
                    details={"instance_type": instance_type, "previous_instance_type": previous},
                )
            return self._restart(iid, previous, reason)
        return ActionResult(iid, ok=True, details=details)

    def _restart(self, iid: str, previous: str, reason: str) -> ActionResult:
        """Starts the instance with its previous type after a failed resize; the result carries ``reason``."""
        try:
            self.client.start_instances(InstanceIds=[iid])
        except (ClientError, BotoCoreError) as exc:
            return ActionResult(
                iid,
                ok=False,
                error=f"{reason}; starting it again as {previous} failed too: {_describe(exc)}; it is stopped",
                details={"instance_type": previous},
            )
        return ActionResult(
            iid,
            ok=False,
            error=f"{reason}; started again as {previous}",
            details={"instance_type": previous, "restarted": True},
        )


def _describe(exc: Exception) -> str:
    if isinstance(exc, WaiterError):
        return f"the instance did not reach the expected state in time ({exc.reason})"
    return aws_error(exc)
