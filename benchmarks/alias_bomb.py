"""Hostile-file benchmark: prints how long refusing each hostile schedule file takes and its peak memory.

The files are the ones issue 10 measured: a 427-byte YAML alias bomb ("billion laughs", 9**9 strings once
expanded: it used to take 45 s and 2.4 GB and print 312 MB of error) and a 5,000-deep nesting (a RecursionError
and exit 1). Each is refused by the schedule-file loader (exit 2) before anything is expanded.

Run: ``.venv/bin/python benchmarks/alias_bomb.py``. A script that prints numbers, not a timed test; the unit
tests (tests/unit/test_hostile_input.py) assert the bounds.
"""

from __future__ import annotations

import platform
import time
import tracemalloc
from collections.abc import Callable

from scheduler.engine import ConfigError, parse_text

BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    'periods:\n  office:\n    begintime: "09:00"\n    description: *i\n'
    "schedules:\n  s: {periods: [office]}\n"
)
DEPTH = 5000
DEEP_FLOW = "periods: {office: {weekdays: " + "[" * DEPTH + "]" * DEPTH + "}}\n"
DEEP_BLOCK = "periods:\n  office:\n    weekdays:\n      " + "- " * DEPTH + "mon\n"  # compact nested block lists
DEEP_MAPPINGS = "periods: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n"

FILES: dict[str, str] = {
    "alias bomb (billion laughs)": BOMB,
    f"{DEPTH:,}-deep flow lists": DEEP_FLOW,
    f"{DEPTH:,}-deep block lists": DEEP_BLOCK,
    f"{DEPTH:,}-deep flow mappings": DEEP_MAPPINGS,
}


def measure(text: str, runs: int = 5) -> tuple[float, int, str]:
    """Best time of ``runs`` refusals (seconds), peak traced memory of one (bytes), and the message."""
    message = ""

    def refuse() -> None:
        nonlocal message
        try:
            parse_text(text)
        except ConfigError as exc:
            message = str(exc)
        else:  # pragma: no cover - the point of the benchmark is that this never happens
            raise SystemExit("accepted a hostile file")

    best = min(_timed(refuse) for _ in range(runs))
    tracemalloc.start()
    try:
        refuse()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return best, peak, message


def _timed(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    print(f"isched hostile-file refusal on {platform.python_implementation()} {platform.python_version()}")
    print(f"{'file':32} {'bytes':>9} {'refused in':>11} {'peak memory':>12}  message")
    for name, text in FILES.items():
        seconds, peak, message = measure(text)
        size = len(text.encode("utf-8"))
        print(f"{name:32} {size:>9,} {seconds * 1000:>8.2f} ms {peak / 1024:>9,.0f} KiB  {message[:90]}")


if __name__ == "__main__":
    main()
