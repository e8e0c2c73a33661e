"""User text is data, never markup: the terminal helpers (scheduler/cli/output.py), the CSV cells and the HTML page
(scheduler/savings/formats.py, charts.py, page.py, png.py), and a check of the CLI's source that every styled line
goes through them."""

from __future__ import annotations

import ast
import copy
import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.table import Table
from rich.text import Text

from scheduler.cli.output import SafeConsole, error_line, lit, printable, styled
from scheduler.savings.formats import csv_cell, escape, render_csv
from scheduler.savings.page import render_html
from scheduler.savings.png import chart_text
from tests.unit.test_savings import small_report

NASTY = [
    "[/]",
    "[red on red]x",
    "[link=https://evil.example]click[/link]",
    "\\[bold]",
    "x\\",
    "y\\\\\\",
    "[bold",
    "]",
    "[/bold]",
    ":warning: :smile:",
    "[@click=app.quit]x[/]",
    "a\\",
]
CLI = Path(__file__).resolve().parents[2] / "scheduler" / "cli"


def terminal() -> SafeConsole:
    return SafeConsole(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=300)


def shown(console: SafeConsole) -> str:
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return text


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --- terminal ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", NASTY)
def test_styled_fields_are_literal(value: str):
    out = terminal()
    out.print(styled("[bold red]error:[/] [green]{}[/] then {}", value, value))
    got = shown(out)
    assert plain(got) == f"error: {value} then {value}\n"
    assert "\x1b]8;" not in got and "41m" not in got and "⚠" not in got
    # The template's own styles still apply: the value in green, the text after it plain.
    assert f"\x1b[32m{value}\x1b[0m" in got and got.endswith(f" then {value}\n")


@pytest.mark.parametrize("value", NASTY)
def test_plain_strings_cells_and_titles_are_literal(value: str):
    out = terminal()
    out.print(value)
    table = Table(title=f"title {value}")
    table.add_column(f"head {value}")
    table.add_row(value)
    table.add_row(None)
    out.print(table)
    got = shown(out)
    assert got.startswith(value + "\n")
    for needle in (f"title {value}", f"head {value}", f"│ {value}"):
        assert needle in got
    assert "\x1b]8;" not in got and "41m" not in got and "⚠" not in got


def test_old_console_would_have_parsed_them():
    """Why the consoles are SafeConsoles: a default rich console takes these as markup (or crashes)."""
    from rich.console import Console
    from rich.errors import MarkupError
    from rich.markup import escape as rich_escape

    default = Console(file=io.StringIO(), width=100)
    with pytest.raises(MarkupError):
        default.print("[/]")
    # rich's own escape() is not enough: three trailing backslashes still eat the closing tag after them.
    default.print(f"[bold]{rich_escape('y' + chr(92) * 3)}[/] after")
    assert default.file.getvalue() == "y\\[/] after\n"  # type: ignore[attr-defined]


def test_control_characters_are_made_visible():
    assert printable("a\x1b[31mb\x07c\rd\x9be\u202ef\u2066g") == "a\\x1b[31mb\\x07c\\x0dd\\x9be\\u202ef\\u2066g"
    assert printable("tab\tand\nnewline stay, ünïcödé too") == "tab\tand\nnewline stay, ünïcödé too"
    out = terminal()
    out.print("x\x1b]8;;https://evil.example\x1b\\click")
    out.print(styled("[bold]{}[/]", "\x1b[41mred"))
    table = Table()
    table.add_column("c")
    table.add_row("\x1b[7mreverse")
    out.print(table)
    got = shown(out)
    assert "\x1b]8;" not in got and "\x1b[41m" not in got and "\x1b[7m" not in got
    assert "x\\x1b]8;;https://evil.example\\x1b\\click" in got and "\\x1b[41mred" in got


def test_styled_field_syntax():
    assert styled("{0}-{0} {name} {n:>3} {r!r}", "a", name="[b]", n=7, r="x").plain == "a-a [b]   7 'x'"
    assert styled("").plain == "" and styled("{}", "").plain == ""
    nested = styled("[bold]a [green]{}[/] {}[/]", "g", lit("red", "red"))
    assert nested.plain == "a g red"
    out = terminal()
    out.print(nested)
    got = shown(out)
    assert "\x1b[1;32mg\x1b[0m" in got and "\x1b[1;31mred\x1b[0m" in got  # the value's own style wins
    with pytest.raises(ValueError):
        styled("\U00100000{}", "x")


def test_error_line():
    line = error_line("i-1 [/]", "AWS said [bold]no[/bold]")
    assert isinstance(line, Text) and line.plain == "error: i-1 [/]: AWS said [bold]no[/bold]"
    assert error_line("x", title="note").plain == "note: x"


def test_markup_on_request_is_still_literal():
    out = terminal()
    out.print("[bold]x[/]", markup=True, emoji=True)
    assert plain(shown(out)) == "[bold]x[/]\n"


# --- the CLI source: styled text only through the helpers ----------------------------------------------------------

_TAG = re.compile(r"\[/?(bold|dim|italic|red|green|yellow|blue|white|link)\b[^\]]*\]|\[/\]")


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_cli_source_styles_only_through_the_helpers(path: Path):
    """Markup in a plain string would now print its brackets; rich's Console and escape() would reintroduce
    parsing: neither belongs in the CLI outside output.py."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    allowed = {"styled", "TextColumn", "from_markup"}
    inside = {id(n) for call in _calls(tree) if _name(call) in allowed for n in ast.walk(call)}
    problems = []
    for call in _calls(tree):
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            for node in ast.walk(arg):
                if id(node) in inside or not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    continue
                if _TAG.search(node.value):
                    problems.append(f"line {node.lineno}: markup {node.value!r} outside styled()")
    if path.name != "output.py":
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("rich.markup", "rich.console"):
                problems.append(f"line {node.lineno}: imports {node.module} (use output.py's consoles and styled)")
    assert not problems, f"{path.name}: " + "; ".join(problems)


# --- CSV -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("https://evil.example","x")', '\'=HYPERLINK("https://evil.example","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("a=1", "a=1"),
        ("i-0abc", "i-0abc"),
        ("", ""),
        (None, ""),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("-1e3", "-1e3"),
        (-1.5, -1.5),
        (0, 0),
        (2.25, 2.25),
    ],
)
def test_csv_cell(value: Any, cell: Any):
    assert csv_cell(value) == cell


def hostile_report(text: str) -> dict[str, Any]:
    """The small report with ``text`` in every name, tag value, type and note (schedules renamed everywhere)."""
    report = copy.deepcopy(small_report())
    strings = ("account", "region", "service", "resource", "schedule", "type", "note", "reason", "metric", "tag_key")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k in strings and isinstance(v, str):
                    out[k] = f"{text}{v}"
                elif k == "by_schedule" and isinstance(v, dict):
                    out[k] = {f"{text}{name}": walk(x) for name, x in v.items()}
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    hostile: dict[str, Any] = walk(report)
    hostile["actual"] = {"metric": f"{text}m", "tag_key": f"{text}k", "note": f"{text}note", "requests": f"{text}1"}
    hostile["resources"][0]["estimated_savings"] = -1.25  # a negative number stays a number
    return hostile


def test_csv_rows_cannot_run_formulas_and_numbers_stay_numbers():
    report = hostile_report("=cmd|'/C calc'!A0 ")
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert rows
    for row in rows:
        for field in ("account", "region", "service", "resource", "type"):
            assert row[field].startswith("'=cmd|"), (field, row[field])
        for field in ("stopped_hours", "running_hours", "estimated_savings"):
            float(row[field])
            assert not row[field].startswith("'")
    assert rows[0]["estimated_savings"] == "-1.25"
    assert rows[0]["hourly_price"] == "0.0912" and rows[0]["units"] == "1"


# --- HTML ----------------------------------------------------------------------------------------------------------

HTML_NASTY = [
    "<script>alert(1)</script>",
    '"><script>alert(2)</script>',
    "' onmouseover='alert(3)",
    "</style><script>alert(4)</script>",
    "</title><script>alert(5)</script>",
    "]]></text><script>alert(6)</script>",
    "javascript:alert(7)",
    "<img src=x onerror=alert(8)>",
    "<!--",
]
SAFE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "span", "svg", "line", "text", "rect",
    "table", "thead", "tbody", "tr", "th", "td", "footer",
}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@pytest.mark.parametrize("value", HTML_NASTY)
def test_html_shows_hostile_text_as_text(value: str):
    html = render_html(hostile_report(value))
    page = Page()
    page.feed(html)
    page.close()
    assert set(page.tags) <= SAFE_TAGS
    assert "script" not in page.tags and "<script" not in html.lower()
    allowed_attrs = {"lang", "charset", "name", "content", "class", "role", "viewbox", "width", "height", "xmlns",
                     "aria-label", "x", "y", "x1", "x2", "y1", "y2", "fill", "text-anchor", "style"}  # fmt: skip
    assert {name for name, _ in page.attrs} <= allowed_attrs
    for name, attr in page.attrs:
        assert value not in (attr or ""), (name, attr)
        if name == "style":
            assert re.fullmatch(r"--c:#[0-9A-F]{6}", attr or ""), attr
    assert not page.comments
    text = "".join(page.text)
    assert f"{value}i-1" in text  # the resource, shown as typed
    assert f"{value}office" in text  # a schedule name (tables, legend, SVG titles)
    # The only style element is the page's own stylesheet.
    assert html.count("<style>") == 1 and html.count("</style>") == 1


def test_html_escape_helper():
    assert escape("<a href=\"x\" onclick='y'>&") == "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;"
    assert escape(None) == "" and escape(3) == "3"


def test_chart_labels_are_not_tex():
    assert chart_text("$x^2$") == r"\$x^2\$"
    assert chart_text("_hidden") == "\u200b_hidden"
    assert chart_text("plain") == "plain"


def test_png_chart_with_tex_in_names(tmp_path: Path):
    pytest.importorskip("matplotlib")
    from scheduler.savings.png import render_png

    report = hostile_report(r"$\frac{$ _")
    path = tmp_path / "chart.png"
    render_png(report, str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
