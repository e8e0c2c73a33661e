"""Schedule file text (YAML or JSON) to a validated :class:`Config`.

The YAML loader is stricter than PyYAML's safe loader in the ways users rely on: a duplicate key anywhere is an
error (never a silent overwrite), and ``9:00`` stays the text "9:00" instead of YAML 1.1's base-60 integer 540.

It is also bounded, so a hostile file is refused quickly, in little memory, instead of being expanded (SPEC §1):

* a file larger than :data:`MAX_FILE_BYTES`;
* nesting deeper than :data:`MAX_DEPTH` (counted through aliases too), which no schedule file needs;
* aliases whose expansion exceeds the file's own size many times over (:data:`EXPANSION_FACTOR`; a "billion
  laughs" file), or an alias that refers to the node that contains it;
* a list or a mapping used as a mapping key, a number of more than :data:`MAX_NUMBER_CHARS` characters, and
  characters YAML does not allow (a NUL byte) — each as an issue naming its line.

A JSON string escape of a character outside the Basic Multilingual Plane (``"\\ud83d\\ude00"``, as ``json.dumps``
writes an emoji) is read as that one character, as JSON means it, not as two unpaired surrogates.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import yaml

from .errors import ConfigError, Issue, quote
from .schedule import Config, parse_config

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
EXPANSION_FACTOR = 10  # the expanded document may be this many times the file's size...
EXPANSION_FLOOR = 100_000  # ...or this many characters, whichever is more
MAX_NUMBER_CHARS = 64
_PROBLEM_LIMIT = 120


class _Refused(Exception):
    """The document is refused while it is being composed (before anything is expanded)."""

    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(yaml.SafeLoader):
    """SafeLoader without sexagesimal numbers, recording duplicate keys with their line, and bounded (see above)."""

    duplicate_issues: list[Issue]

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_issues = []
        self.chars = len(stream)
        self.budget = max(EXPANSION_FLOOR, EXPANSION_FACTOR * len(stream))
        self._depth = 0
        # id(node) -> (characters of its expansion, nesting depth of its expansion), for every finished node.
        self._measured: dict[int, tuple[int, int]] = {}

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        # Refused as the scanner reaches the level, before its lookahead for keys (which costs a scan of the
        # open levels per character) would make a line of thousands of "[" slow.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.get_mark(), f"the document nests more than {MAX_DEPTH} levels deep")
        super().fetch_flow_collection_start(TokenClass)

    def _next_mark(self) -> yaml.Mark | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        return getattr(event, "start_mark", None)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self._next_mark()
            node = super().compose_node(parent, index)
            if id(node) not in self._measured:
                raise _Refused(mark, "an alias refers to a node that contains it (a recursive structure)")
            _, depth = self._measured[id(node)]
            if self._depth + depth + 1 > MAX_DEPTH:  # + 1: the scalars at the bottom count, as below
                raise _Refused(mark, f"the document nests more than {MAX_DEPTH} levels deep (through an alias)")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(self._next_mark(), f"the document nests more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._measure(node)
        return node

    def _measure(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            size, depth = len(node.value) + 1, 0
        else:
            children: list[yaml.Node] = (
                [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
            )
            size, depth = 1, 0
            for child in children:
                child_size, child_depth = self._measured[id(child)]
                size += child_size
                depth = max(depth, child_depth)
            depth += 1
        if size > self.budget:
            raise _Refused(
                node.start_mark,
                f"aliases would expand this {self.chars:,}-character document to more than {self.budget:,} "
                "characters (an alias bomb?)",
            )
        self._measured[id(node)] = (size, depth)


# Rebuild the implicit resolvers: no base-60 ints or floats ("9:00" stays text), booleans only true/false (a
# period named "off" or "no" stays a name), and no timestamps (dates stay text and are validated, with the field
# named, by the schedule rules rather than failing inside the YAML parser).
_DROPPED = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$", re.X),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # Duplicates are checked among the keys written in this mapping; keys brought in by a `<<` merge may be
    # overridden by design.
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            what = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise _Refused(key_node.start_mark, f"a {what} cannot be a key (keys are names)")
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _Refused(key_node.start_mark, f"{quote(key)} cannot be a key (keys are names)") from None
        if key in first_line:
            loader.duplicate_issues.append(
                Issue(f"line {line}", f"duplicate key {quote(key)} (already defined on line {first_line[key]})")
            )
        else:
            first_line[key] = line
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        # Keys merged in by `<<` were not checked above (their mapping may never be constructed on its own).
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Refused(key_node.start_mark, "a list or a mapping cannot be a key (keys are names)")
        key = loader.construct_object(key_node, deep=deep)
        try:
            out[key] = loader.construct_object(value_node, deep=deep)
        except TypeError:  # an unhashable key
            raise _Refused(key_node.start_mark, f"{quote(key)} cannot be a key (keys are names)") from None
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_SURROGATE = re.compile("[\ud800-\udfff]")


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    value = loader.construct_scalar(node)
    if _SURROGATE.search(value):
        # YAML reads the escapes "\ud83d\ude00" as two surrogates; JSON (and json.dumps's output) means one
        # character. Pair them up; an unpaired one stays, and text validation refuses it with the field named.
        with contextlib.suppress(UnicodeDecodeError):
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    return value


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if len(node.value) > MAX_NUMBER_CHARS:
        raise _Refused(node.start_mark, f"a number of {len(node.value):,} characters is not a schedule value")
    return int(loader.construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "file"


def _size_issue(text: str) -> Issue | None:
    # Cheap bounds first: a character is at most 4 bytes of UTF-8.
    if len(text) * 4 <= MAX_FILE_BYTES:
        return None
    size = len(text) if len(text) > MAX_FILE_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size <= MAX_FILE_BYTES:
        return None
    return Issue(
        "file", f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB ({size:,} bytes or more): not a schedule file"
    )


def load_document(text: str) -> Any:
    """Parses YAML (or JSON) text; raises :class:`ConfigError` on a syntax error, a duplicate key or a document
    that exceeds the loader's bounds (size, nesting, alias expansion)."""
    too_big = _size_issue(text)
    if too_big is not None:
        raise ConfigError([too_big])
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        doc = loader.get_single_data()
    except _Refused as exc:
        raise ConfigError([Issue(_where(exc.mark), exc.message)]) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_issue(text, exc)]) from None
    except yaml.MarkedYAMLError as exc:
        problem = str(exc.problem or exc.context or "syntax error")
        if len(problem) > _PROBLEM_LIMIT:
            problem = problem[:_PROBLEM_LIMIT] + "…"
        raise ConfigError([Issue(_where(exc.problem_mark), f"not valid YAML or JSON: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Issue("file", f"not valid YAML or JSON: {str(exc)[:_PROBLEM_LIMIT]}")]) from None
    except RecursionError:  # cannot happen with the depth bound; kept so no input ever gives a traceback
        raise ConfigError([Issue("file", f"the document nests more than {MAX_DEPTH} levels deep")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.duplicate_issues:
        raise ConfigError(loader.duplicate_issues)
    return doc


def _reader_issue(text: str, exc: yaml.reader.ReaderError) -> Issue:
    """A character YAML does not allow anywhere in a file (a NUL byte, most control characters)."""
    position = int(exc.position)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(text[position]) if position < len(text) else 0
    return Issue(
        f"line {line}, column {column}",
        f"the character U+{code:04X} is not allowed in a schedule file (write control characters as escapes, "
        'e.g. "\\t", in a double-quoted string)',
    )


def parse_text(text: str) -> Config:
    """Text of a schedule file to a validated configuration (every issue reported at once)."""
    return parse_config(load_document(text))


def dump_document(config: Config) -> str:
    """The configuration as schedule-file YAML (what ``isched export`` prints)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False, allow_unicode=True)
