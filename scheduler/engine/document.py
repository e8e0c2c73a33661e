"""Schedule file text (YAML or JSON) to a validated :class:`Config`.

The YAML loader is stricter than PyYAML's safe loader in two ways users rely on: a duplicate key anywhere is an
error (never a silent overwrite), and ``9:00`` stays the text "9:00" instead of YAML 1.1's base-60 integer 540.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ConfigError, Issue
from .schedule import Config, parse_config


class _Loader(yaml.SafeLoader):
    """SafeLoader without sexagesimal numbers, recording duplicate keys with their line."""

    duplicate_issues: list[Issue]


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
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in first_line:
            loader.duplicate_issues.append(
                Issue(f"line {line}", f"duplicate key '{key}' (already defined on line {first_line[key]})")
            )
        else:
            first_line[key] = line
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document(text: str) -> Any:
    """Parses YAML (or JSON) text; raises :class:`ConfigError` on a syntax error or a duplicate key."""
    loader = _Loader(text)
    loader.duplicate_issues = []
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "file"
        raise ConfigError([Issue(where, f"not valid YAML or JSON: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Issue("file", f"not valid YAML or JSON: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.duplicate_issues:
        raise ConfigError(loader.duplicate_issues)
    return doc


def parse_text(text: str) -> Config:
    """Text of a schedule file to a validated configuration (every issue reported at once)."""
    return parse_config(load_document(text))


def dump_document(config: Config) -> str:
    """The configuration as schedule-file YAML (what ``isched export`` prints)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False, allow_unicode=True)
