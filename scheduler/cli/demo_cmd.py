"""``isched demo``: the whole system end to end on an embedded simulated AWS, in under a minute."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from scheduler.savings.model import Report
from scheduler.savings.page import render_html
from scheduler.savings.png import ChartUnavailable, render_png
from scheduler.savings.price_file import parse_prices

from .errors import InputError
from .options import json_option
from .output import console, emit_json, err_console, styled


@click.command("demo")
@click.option("--days", default=7, show_default=True, type=int, help="Days to simulate (1-28), from Monday.")
@click.option("--out", "out", metavar="DIR", default="isched-demo", show_default=True, help="Where to write files.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the people's random manual changes.")
@click.option(
    "--every-pass",
    is_flag=True,
    help="Run all 288 passes a day, idle ones too (about 25x slower; the result is the same).",
)
@json_option
def demo_cmd(days: int, out: str, seed: int, every_pass: bool, as_json: bool) -> None:
    """See isched work end to end without an AWS account.

    Starts an embedded simulated AWS (moto, in this process), creates the tables, applies a schedule file
    (office hours in Berlin and New York, an overnight batch window, a cron weekend shutdown, a holiday and an
    enforced schedule), creates a fleet in two accounts and two regions (EC2 with hibernate and resize cases,
    Auto Scaling groups, RDS and Aurora), tags it, and simulates the days with a pass every five minutes while a
    few people start and stop things by hand. It then prints what happened and the savings report, and writes
    the HTML report and a chart to --out.

    The passes run the same orchestrator, workers, adapters, store and report code as Lambda does.
    """
    if not 1 <= days <= 28:
        raise InputError(f"'{days}' is out of range (1-28 days)", "--days")
    import importlib.util

    if importlib.util.find_spec("moto") is None:
        raise InputError("the demo needs moto: pip install 'instance-scheduler[demo]'", "demo")
    from scheduler.demo import runner

    directory = runner.out_dir(out)
    started = time.perf_counter()
    show = not as_json
    with runner.embedded_aws():
        with Progress(
            TextColumn("[bold]simulating[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.fields[passes]} passes run"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not (show and err_console.is_terminal),
        ) as progress:
            task = progress.add_task("", total=days * 288 + 1, passes=0)

            def tick(at: Any, ran: int) -> None:
                progress.update(task, advance=1, description=at.strftime("%a %d %b %H:%M UTC"), passes=ran)

            def phase(msg: str) -> None:
                if show:
                    err_console.print(styled("[dim]·[/] {}", msg))

            run = runner.run_demo(days=days, seed=seed, every_pass=every_pass, on_phase=phase, on_tick=tick)
        t_report = time.perf_counter()
        prices = parse_prices(runner.demo_text("prices.csv"), "demo prices")
        report = runner.demo_report(run, prices)
        run.timings["report"] = time.perf_counter() - t_report
    files = _write_files(directory, report)
    run.timings["total"] = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "days": days,
                "seed": seed,
                "passes": {"total": run.sim.passes_total, "run": run.sim.passes_run},
                "actions_per_day": {d.isoformat(): dict(c) for d, c in runner.actions_per_day(run).items()},
                "errors": runner.errors(run),
                "people": [
                    {"at": e.at.isoformat(), "who": e.who, "action": e.action, "resource": e.resource.id}
                    for e in run.sim.events
                ],
                "report": report,
                "files": files,
                "timings": {k: round(v, 2) for k, v in run.timings.items()},
            }
        )
        return
    _print(run, report, files)


def _write_files(directory: Any, report: Report) -> list[str]:
    files = []
    html = directory / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    files.append(str(html))
    data = directory / "report.json"
    data.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    files.append(str(data))
    try:
        render_png(report, str(directory / "savings.png"))
        files.append(str(directory / "savings.png"))
    except ChartUnavailable as exc:
        err_console.print(styled("[yellow]no chart:[/] {}", exc))
    return files


def _print(run: Any, report: Report, files: list[str]) -> None:
    from scheduler.cli.report_cmds import print_tables
    from scheduler.demo import runner
    from scheduler.demo.fleet import REGIONS

    per_day = runner.actions_per_day(run)
    columns = sorted({k for c in per_day.values() for k in c})
    table = Table(title="Actions per day (UTC)", show_edge=False, header_style="bold")
    table.add_column("day", no_wrap=True)
    for col in columns:
        table.add_column(col.replace(" ", "\n", 1), justify="right")  # "ec2 stop": service over action
    for day, counts in per_day.items():
        table.add_row(day.strftime("%a %d %b"), *(str(counts.get(c, "")) for c in columns))
    console.print(table)
    if run.sim.events:
        console.print(
            styled("[bold]People[/] (their changes are respected without a transition, except on enforced QA):")
        )
        for e in run.sim.events:
            console.print(f"  {e.at.strftime('%a %H:%M')}  {e.who} {e.action}s {e.resource.id} ({e.resource.schedule})")
    errs = runner.errors(run)
    if errs:
        console.print(styled("[bold red]{} error(s):[/]", len(errs)))
        for text in errs:
            console.print(f"  {text}")
    else:
        console.print("No errors.")
    day = (run.sim.start + timedelta(days=min(2, max(0, (run.sim.end - run.sim.start).days - 1)))).date()
    tl = Table(
        title=f"Running (█) or stopped (·) on {day.strftime('%a %d %b')} (UTC), hub account, {REGIONS[0]}",
        show_edge=False,
        header_style="bold",
    )
    tl.add_column("resource", no_wrap=True)
    tl.add_column("schedule", no_wrap=True)
    tl.add_column("".join(f"{h:02d}".ljust(6) for h in range(0, 24, 3)), no_wrap=True)
    for rid, schedule, cells in runner.timelines(run, day):
        bar = Text()
        for on in cells:
            bar.append("█" if on else "·", style="green" if on else "dim")
        tl.add_row(rid, schedule, bar)
    console.print(tl)
    print_tables(report, console)
    t = run.timings
    console.print(
        f"Ran {run.sim.passes_run} of {run.sim.passes_total} five-minute passes (the others had no transition, no "
        f"manual change and no retry due, so they would have done nothing; --every-pass runs them too). "
        f"Setup {t['setup']:.1f} s, passes {t['passes']:.1f} s, report {t['report']:.1f} s, total {t['total']:.1f} s."
    )
    console.print("Wrote " + ", ".join(files))
