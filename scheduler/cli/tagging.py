"""``isched tag`` and ``isched untag``: set or remove the schedule tag on EC2 instances, Auto Scaling groups and
RDS DB instances and clusters (every registered service)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

from scheduler.aws.session import is_region
from scheduler.engine.errors import Issue, quote
from scheduler.services import tagging
from scheduler.services.tagging import Found, Outcome, Reference, kind_name

from .errors import CommandError, InputError
from .options import json_option
from .output import console, emit_json, err_console, error_line, lit, styled

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TAG_KEY = "Schedule"
TAG_KEY_ENV = "ISCHED_TAG_KEY"
# AWS tag limits shared by EC2, Auto Scaling and RDS: keys up to 128 characters, values up to 256, and the
# "aws:" prefix reserved for AWS's own tags.
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def _stored_schedule(ctx: click.Context, name: str) -> bool:
    """Whether NAME is a schedule in the namespace's configuration table."""
    from .context import config_store

    return config_store(ctx).get("schedule", name) is not None


# Looked up at call time, so tests can substitute the check without a configuration table.
schedule_exists: Callable[[click.Context, str], bool] = _stored_schedule


def _tag_key_option(fn: F) -> F:
    return click.option(
        "--tag-key",
        "tag_key",
        envvar=TAG_KEY_ENV,
        default=DEFAULT_TAG_KEY,
        show_default=True,
        metavar="K",
        help=f"The tag whose value names a resource's schedule (env {TAG_KEY_ENV}).",
    )(fn)


def _region_option(fn: F) -> F:
    return click.option(
        "--region",
        metavar="R",
        help="Region of the ids and names given (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's). "
        "An ARN's own region always wins.",
    )(fn)


def _check_tag_key(key: str) -> str:
    if not key.strip():
        raise InputError("the tag key is empty", "--tag-key")
    if len(key) > MAX_TAG_KEY:
        raise InputError(f"'{key}' is longer than {MAX_TAG_KEY} characters", "--tag-key")
    if key.lower().startswith("aws:"):
        raise InputError(f"'{key}' starts with 'aws:', a prefix AWS reserves for its own tags", "--tag-key")
    return key


def _check_schedule(name: str) -> str:
    if not name.strip():
        raise InputError("the schedule name is empty", "--schedule")
    if len(name) > MAX_TAG_VALUE:
        raise InputError(
            f"'{name}' is longer than {MAX_TAG_VALUE} characters, the most a tag value holds", "--schedule"
        )
    return name


def _check_region(region: str | None) -> None:
    if region is not None and not is_region(region):
        raise InputError(f"'{region}' is not an AWS region (e.g. eu-west-1)", "--region")


def _parse_where(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"'{text}' is not KEY=VALUE", "--where")
    return key, value


# The longest of what RESOURCE can be: an ARN (2,048 characters in IAM's limits; ids and names are far shorter).
MAX_RESOURCE_CHARS = 2048


def _targets(values: Sequence[str], region: str) -> list[Reference]:
    """Every RESOURCE parsed, or all the bad ones reported together (nothing is written when one is bad)."""
    targets: list[Reference] = []
    issues: list[Issue] = []
    for value in values:
        if len(value) > MAX_RESOURCE_CHARS:
            # Longer than any id, name or ARN a service accepts: refused here, before any AWS call quotes it whole.
            issues.append(
                Issue("RESOURCE", f"{quote(value)} is not a resource id, name or ARN (at most {MAX_RESOURCE_CHARS})")
            )
            continue
        try:
            targets.append(tagging.parse_target(value, region))
        except tagging.InvalidResource as exc:
            issues.append(Issue("RESOURCE", str(exc)))
    if issues:
        raise InputError(issues)
    return targets


def _result_text(outcome: Outcome, op: str, value: str | None) -> Text:
    if not outcome.ok:
        return styled("[red]✗ failed[/]")
    before = outcome.previous
    if op == "untag":
        if before is None:
            return styled("[green]✓ untagged[/] (had no tag)")
        return styled("[green]✓ untagged[/] (was {})", before)
    if before is None:
        return styled("[green]✓ tagged[/]")
    if before == value:
        return styled("[green]✓ unchanged[/]")
    return styled("[green]✓ tagged[/] (was {})", before)


def _report(outcomes: Sequence[Outcome], tag_key: str, schedule: str | None, as_json: bool, op: str) -> None:
    """Prints every outcome, then exits 1 if any resource failed."""
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        emit_json({"tag_key": tag_key, "schedule": schedule, "results": [o.to_json() for o in outcomes]})
    else:
        table = Table(show_edge=False, header_style="bold")
        table.add_column("resource", overflow="fold")
        table.add_column("kind")
        table.add_column("region", no_wrap=True)
        table.add_column("result")
        for o in outcomes:
            kind = kind_name(o.kind) if o.kind else "?"
            table.add_row(o.resource, kind, o.region, _result_text(o, op, schedule))
        console.print(table)
        done = len(outcomes) - len(failed)
        what = f"tagged {tag_key}={schedule}" if op == "tag" else f"untagged ({tag_key})"
        console.print(f"{done} of {len(outcomes)} resource(s) {what}")
    # Errors go to stderr in full (a table cell would wrap or cut them), in JSON mode too.
    for o in failed:
        err_console.print(error_line(o.resource, o.error or "failed"), soft_wrap=True)
    if failed:
        raise click.exceptions.Exit(1)


def _print_matches(found: Sequence[Found], tag_key: str, where: tuple[str, str], region: str) -> None:
    table = Table(
        title=f"{len(found)} resource(s) in {region} with {where[0]}={where[1]}",
        show_edge=False,
        header_style="bold",
    )
    table.add_column("kind")
    table.add_column("id", overflow="fold")
    table.add_column(f"current {tag_key}")
    for r in found:
        current = r.tags.get(tag_key)
        table.add_row(kind_name(r.kind), r.id, current if current is not None else lit("-", "dim"))
    console.print(table)


@click.command("tag")
@click.argument("resources", nargs=-1, metavar="RESOURCE...")
@click.option("--schedule", "schedule", required=True, metavar="NAME", help="The schedule to put the resources on.")
@click.option(
    "--where",
    "where",
    metavar="KEY=VALUE",
    help="Instead of RESOURCEs: every EC2 instance, Auto Scaling group and RDS DB instance or cluster in the "
    "region with tag KEY=VALUE. Lists them and asks before tagging.",
)
@_region_option
@_tag_key_option
@click.option("--force", is_flag=True, help="Tag even if NAME is not a stored schedule (e.g. before `isched apply`).")
@click.option("--yes", "-y", "yes", is_flag=True, help="With --where: tag without asking (required with --json).")
@json_option
@click.pass_context
def tag_cmd(
    ctx: click.Context,
    /,
    resources: tuple[str, ...],
    schedule: str,
    where: str | None,
    region: str | None,
    tag_key: str,
    force: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Put resources on a schedule by setting their schedule tag (default `Schedule=NAME`).

    RESOURCE is an EC2 instance id (i-…), an Auto Scaling group name, an RDS DB instance or DB cluster
    identifier, an ECS service as CLUSTER/SERVICE, an EKS managed node group as CLUSTER/NODEGROUP, or the ARN
    of any of them. A name that exists as more than one kind is refused: give its ARN.
    An existing tag is overwritten. Auto Scaling group tags do not propagate to the group's instances; RDS DB
    instances of a cluster are refused (tag the cluster). Each resource succeeds or fails on its own: all are
    reported, and the exit code is 1 if any failed. NAME must be a stored schedule unless --force is given.

    \b
    Examples:
      isched tag i-0abc12345def67890 web-asg orders-db --schedule office-berlin
      isched tag arn:aws:rds:eu-west-1:123456789012:cluster:reports --schedule office-berlin
      isched tag web-asg --schedule batch --region eu-central-1 --json
      isched tag shop/web arn:aws:eks:eu-west-1:123456789012:nodegroup/k8s/nodes/… --schedule office-berlin
      isched tag --where team=data --schedule office-berlin          # lists the matches, then asks
      isched tag --where env=dev --schedule nights --yes --json
    """
    key = _check_tag_key(tag_key)
    _check_schedule(schedule)
    _check_region(region)
    if where is not None and resources:
        raise InputError(f"'{where}' cannot be combined with RESOURCE arguments: give one or the other", "--where")
    if where is None and not resources:
        raise InputError("give at least one RESOURCE, or --where KEY=VALUE", "RESOURCE")
    clients = tagging.Clients()
    region_name = region or clients.default_region()
    match = _parse_where(where) if where is not None else None
    if match is not None and as_json and not yes:
        raise InputError("--where with --json needs --yes: there is no prompt to confirm the matches", "--yes")
    targets = _targets(resources, region_name) if match is None else []
    if not force and not schedule_exists(ctx, schedule):
        raise InputError(f"'{schedule}' is not a stored schedule (use --force to tag anyway)", "--schedule")

    if match is None:
        _report(tagging.tag_targets(targets, key, schedule, clients), key, schedule, as_json, "tag")
        return
    try:
        found = tagging.find_where(match[0], match[1], region_name, clients)
    except tagging.TaggingError as exc:
        raise CommandError(str(exc)) from exc
    if not found:
        if as_json:
            emit_json({"tag_key": key, "schedule": schedule, "results": []})
        else:
            console.print(f"No resource in {region_name} has tag {match[0]}={match[1]}: nothing to tag.")
        return
    if not yes:
        _print_matches(found, key, match, region_name)
        click.confirm(f"Tag these {len(found)} resource(s) with {key}={schedule}?", abort=True)
    _report(tagging.tag_found(found, key, schedule, clients), key, schedule, as_json, "tag")


@click.command("untag")
@click.argument("resources", nargs=-1, metavar="RESOURCE...")
@_region_option
@_tag_key_option
@json_option
def untag_cmd(resources: tuple[str, ...], region: str | None, tag_key: str, as_json: bool) -> None:
    """Take resources off their schedule by removing the schedule tag, whatever its value.

    RESOURCE is named as for `isched tag`. A resource without the tag is reported as such and counts as done.
    The next scheduling pass leaves the resource alone, in whatever state it is.

    \b
    Examples:
      isched untag i-0abc12345def67890 web-asg
      isched untag arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:…:autoScalingGroupName/web-asg
      isched untag orders-db --tag-key isched-schedule --json
    """
    key = _check_tag_key(tag_key)
    _check_region(region)
    if not resources:
        raise InputError("give at least one RESOURCE", "RESOURCE")
    clients = tagging.Clients()
    targets = _targets(resources, region or clients.default_region())
    _report(tagging.untag_targets(targets, key, clients), key, None, as_json, "untag")
