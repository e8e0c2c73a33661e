"""How tagging messages name kinds of resources for people."""

from __future__ import annotations

from collections.abc import Sequence

from .. import registry


def kind_name(kind: str) -> str:
    """A kind's name for people ("EC2 instance")."""
    return registry.kind_names()[kind]


def with_article(name: str) -> str:
    """``name`` with its indefinite article: "an EC2 instance", "an RDS…", "an Auto…", "a Redshift cluster"."""
    first = name.split(" ", 1)[0]
    # An initialism is read letter by letter: "an RDS", "an EKS"; a word by its first sound.
    vowel = first[0] in "AEFHILMNORSX" if len(first) > 1 and first[:2].isupper() else first[0].lower() in "aeiou"
    return f"{'an' if vowel else 'a'} {name}"


def either(names: Sequence[str], last: str) -> str:
    """``names`` as a list in prose, ``last`` ("and", "or") before the final one."""
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else "".join(names)
