"""Output helpers: JSON on stdout with ``--json``, rich tables and text otherwise; errors on stderr.

Text from users and from AWS (names, descriptions, tag values, resource ids, reasons, error messages) is data,
never markup. So the consoles here print every ``str`` literally, in ``print`` calls, table cells, titles and
headers alike: no rich markup (``[red]`` stays ``[red]``), no emoji codes (``:warning:`` stays as typed), and
control characters (ANSI escapes, carriage returns, bidirectional overrides) shown as ``\\x1b``-style escapes
instead of reaching the terminal. Styling is opt-in through :func:`styled`: its template is trusted markup
written in the code, and every ``{}`` field is filled with literal text, whatever it contains::

    err_console.print(styled("[bold red]error:[/] {}: {}", resource, message))
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.text import Text

from scheduler.engine.errors import Issue

# C0 controls but tab and newline, DEL, C1 controls, and the Unicode format characters that reorder or hide text.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Stand-ins for the fields of a styled() template while its markup is parsed (Unicode plane 16, private use).
_FIELD_BASE = 0x100000
_FIELDS = re.compile("[\U00100000-\U0010fffd]")


def printable(text: str) -> str:
    """``text`` with every control character a terminal would act on written out as an escape (``\\x1b``)."""

    def visible(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(visible, text)


def lit(value: object, style: str | Style = "") -> Text:
    """One piece of user or AWS text, shown exactly as it is (optionally in one style)."""
    return Text(printable(str(value)), style=style, end="")


def styled(template: str, /, *args: object, **kwargs: object) -> Text:
    """Rich markup from a trusted ``template`` whose ``{}`` fields are filled with literal text.

    The fields take ``str.format`` syntax (``{}``, ``{0}``, ``{name}``, ``{value:.2f}``); a field inside a
    markup tag takes that tag's style (``"[bold]{}[/]"``), and a :class:`~rich.text.Text` value (from :func:`lit`
    or :func:`styled`) keeps its own styles too. No value can open or close a tag, change a style, become an
    emoji or send a control sequence to the terminal.
    """
    formatter = string.Formatter()
    values: list[str | Text] = []
    marked: list[str] = []
    auto = 0
    for literal, field_name, spec, conversion in formatter.parse(template):
        if _FIELDS.search(literal):
            raise ValueError("a styled() template cannot contain Unicode plane-16 private-use characters")
        marked.append(literal)
        if field_name is None:
            continue
        key = field_name or str(auto)  # "{}" is the next automatic field
        auto += not field_name
        obj, _ = formatter.get_field(key, args, kwargs)
        obj = formatter.convert_field(obj, conversion)
        marked.append(chr(_FIELD_BASE + len(values)))
        values.append(obj if isinstance(obj, Text) and not spec else formatter.format_field(obj, spec or ""))
    parsed = Text.from_markup("".join(marked), emoji=False)
    out = Text(style=parsed.style, end="")
    plain = parsed.plain
    start = 0
    for match in _FIELDS.finditer(plain):
        at = match.start()
        out.append_text(parsed[start:at])
        value = values[ord(match.group()) - _FIELD_BASE]
        piece = Text(end="")
        if isinstance(value, Text):
            piece.append_text(value)  # its base style becomes a span, so it stays above the template's styles
        else:
            piece.append(printable(value))
        for span in reversed(parsed[at].spans):  # the styles of the tags around the field, under the value's own
            piece.stylize_before(span.style, 0, len(piece))
        out.append_text(piece)
        start = at + 1
    out.append_text(parsed[start:])
    return out


class SafeConsole(Console):
    """A rich console that prints every ``str`` literally (see the module's docstring); style with :func:`styled`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(markup=False, emoji=False)
        kwargs.setdefault("highlight", False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Every str a renderable holds (a table cell, a title, a column header) is converted here: no markup and
        # no emoji, whatever the caller asks for, and no control character reaches the terminal.
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(text), **kwargs)


def _width() -> int | None:
    # Piped output would otherwise wrap tables at 80 columns; a terminal keeps its own width.
    return None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140


console = SafeConsole(width=_width())
err_console = SafeConsole(stderr=True, width=_width())


def error_line(*parts: object, title: str = "error") -> Text:
    """``error: A: B`` with the title in bold red and every part literal."""
    return styled("[bold red]{}:[/] {}", title, ": ".join(str(p) for p in parts))


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def report_issues(issues: list[Issue], *, as_json: bool, source: str | None = None, title: str = "error") -> None:
    """Prints every issue to stderr (and as JSON on stdout with ``--json``)."""
    prefix = f"{source}: " if source else ""
    for issue in issues:
        err_console.print(error_line(f"{prefix}{issue}", title=title), soft_wrap=True)
    if as_json:
        payload: dict[str, Any] = {
            "error": "; ".join(str(i) for i in issues),
            "issues": [issue_json(i) for i in issues],
        }
        if source:
            payload["file"] = source
        emit_json(payload)


def issue_json(issue: Issue) -> dict[str, str]:
    return {"path": issue.path, "message": issue.message}
