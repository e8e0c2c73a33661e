"""Entry point of ``isched``: the command group, global options and the exit-code policy.

Exit codes: 0 success; 2 invalid input or usage (the message names the field and the value; nothing written);
1 any other failure.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from scheduler import __version__
from scheduler.engine import FieldError, zone
from scheduler.engine.errors import printable

from .calendar_cmd import calendar_cmd
from .demo_cmd import demo_cmd
from .errors import CommandError, InputError
from .import_cmd import import_is_cmd
from .items import SCHEDULE_ITEM_COMMANDS, period_group
from .output import emit_json, err_console, error_line, report_issues
from .override_cmd import override_cmd
from .report_cmds import report_cmd
from .run_cmds import run_cmd, status_cmd
from .schedules import schedule_group, validate_cmd
from .store_cmds import apply_cmd, export_cmd, init_cmd
from .suggest_cmd import suggest_cmd
from .tagging import tag_cmd, untag_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--namespace",
    envvar="ISCHED_NAMESPACE",
    default="default",
    show_default=True,
    help="Keeps several deployments' tables apart (env ISCHED_NAMESPACE).",
)
@click.option(
    "--stack",
    envvar="ISCHED_STACK",
    metavar="NAME",
    help="Use the tables of this deployed CloudFormation stack (its ConfigTable/StateTable/LedgerTable outputs; "
    "env ISCHED_STACK). Overrides --namespace.",
)
@click.option(
    "--default-timezone",
    envvar="ISCHED_DEFAULT_TIMEZONE",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="IANA zone of schedules that name none, as the deployment's DefaultTimezone (env ISCHED_DEFAULT_TIMEZONE).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout, for every command.")
@click.version_option(__version__, prog_name="isched")
@click.pass_context
def cli(ctx: click.Context, namespace: str, stack: str | None, default_timezone: str, as_json: bool) -> None:
    """isched: stop and start EC2, Auto Scaling groups and RDS/Aurora on schedules, and see what it saved.

    Schedules are made of periods (office hours, overnight batches, cron windows) in a time zone. Tag a
    resource with `Schedule=<name>` and each scheduling pass starts and stops it.

    \b
    See it work without AWS:
      isched demo
    \b
    The tour:
      isched validate --file schedules.yaml          # check a schedule file (no AWS needed)
      isched schedule preview office --from 2026-12-01 --to 2026-12-07 --file schedules.yaml
      isched init && isched apply --file schedules.yaml
      isched tag i-0abc123 web-asg orders-db --schedule office
      isched run --dry-run                           # what a pass would do now
      isched status
      isched override i-0abc123 --state running --for 3h   # keep one up tonight
      isched report --month 2026-11 --format html --out savings.html
      isched suggest --days 14                       # what else could run on a schedule

    Every command takes --json. Exit codes: 0 success, 2 invalid input (nothing written), 1 other failures.
    """
    obj = ctx.ensure_object(dict)
    obj["namespace"] = namespace
    obj["stack"] = stack
    obj["json"] = as_json
    try:
        zone(default_timezone)
    except FieldError as exc:
        raise InputError(str(exc), "--default-timezone") from None
    obj["default_timezone"] = default_timezone


cli.add_command(validate_cmd)
cli.add_command(schedule_group)
cli.add_command(init_cmd)
cli.add_command(apply_cmd)
cli.add_command(export_cmd)
cli.add_command(period_group)
cli.add_command(tag_cmd)
cli.add_command(untag_cmd)
cli.add_command(override_cmd)
cli.add_command(run_cmd)
cli.add_command(status_cmd)
cli.add_command(demo_cmd)
cli.add_command(report_cmd)
cli.add_command(calendar_cmd)
cli.add_command(suggest_cmd)
cli.add_command(import_is_cmd)
for _command in SCHEDULE_ITEM_COMMANDS:
    schedule_group.add_command(_command)


_MESSAGE_LIMIT = 2000


def _text(*parts: object) -> str:
    """An error message from ``parts``: printable (no lone surrogates or control characters) and bounded."""
    text = printable(": ".join(str(p) for p in parts))
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"


def _failed(code: int, message: str, as_json: bool) -> int:
    """With ``--json``, every failure is also ``{"error": "…"}`` on stdout (SPEC §3); returns the exit code."""
    if as_json:
        with contextlib.suppress(OSError, ValueError):
            emit_json({"error": message})
    return code


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI and maps errors to exit codes (never a traceback for an expected failure).

    Under ``--json`` every failure prints ``{"error": "…"}`` on stdout as well: exit 2 (bad input, with its
    ``issues``) and exit 1 alike. A command that printed its own JSON before failing (``validate``, ``run``) ends
    with an exit code only.
    """
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        rc = cli.main(args=argv, prog_name="isched", standalone_mode=False)
    except InputError as exc:
        report_issues(exc.issues, as_json=as_json, source=exc.source)
        return 2
    except click.exceptions.Abort:
        err_console.print("aborted")
        return _failed(1, "aborted", as_json)
    except click.ClickException as exc:
        exc.show()
        return _failed(exc.exit_code, _text(exc.format_message()), as_json)
    except CommandError as exc:
        err_console.print(error_line(_text(exc)), soft_wrap=True)
        return _failed(1, _text(exc), as_json)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except PynamoDBException as exc:
        code = getattr(exc, "cause_response_code", None)
        if code == "ResourceNotFoundException":
            message = (
                "the isched tables do not exist here: run `isched init` "
                "(or check --namespace / ISCHED_NAMESPACE and the region)"
            )
        else:
            message = _text("DynamoDB", getattr(exc, "cause_response_message", None) or exc)
        err_console.print(error_line(message), soft_wrap=True)
        return _failed(1, message, as_json)
    except (BotoCoreError, ClientError) as exc:
        err_console.print(error_line(_text("AWS", exc)), soft_wrap=True)
        return _failed(1, _text("AWS", exc), as_json)
    except KeyboardInterrupt:
        return _failed(130, "interrupted", as_json)
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if os.environ.get("ISCHED_DEBUG"):
            raise
        err_console.print(error_line(_text(type(exc).__name__, exc)), soft_wrap=True)
        return _failed(1, _text(type(exc).__name__, exc), as_json)
    # In non-standalone mode click returns an Exit's code instead of raising it.
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
