"""Setting and removing the schedule tag on resources of every registered service (``isched tag`` / ``untag``).

A resource is named the way users see it in the console: an id (EC2's ``i-…``), a name (an Auto Scaling group, an
RDS DB instance or cluster identifier), or an ARN. What a name or ARN may denote, how resources are looked up and
how the tag is written, batched, is each service's own (:class:`scheduler.services.base.Service`); this package
only resolves the arguments through the registry, batches per region and kind, and reports per argument. Names are
resolved before anything is written, so a typo or an ambiguous name is reported per resource and never tags the
wrong thing; one resource's failure never stops the others.

- :mod:`.parse`: RESOURCE arguments (ids, names, ARNs) to references (:class:`Reference`);
- :mod:`.lookup`: references to the resources they name (:func:`resolve`);
- :mod:`.write`: writing or removing the tag, batched, with one :class:`Outcome` per argument;
- :mod:`.find`: every resource carrying a given tag (``isched tag --where``).
"""

from __future__ import annotations

from ..naming import Found, InvalidResource, Reference
from .clients import Clients
from .find import TaggingError, find_where
from .lookup import resolve
from .parse import parse_target
from .words import kind_name
from .write import Outcome, tag_found, tag_targets, untag_discovered, untag_targets

__all__ = [
    "Clients",
    "Found",
    "InvalidResource",
    "Outcome",
    "Reference",
    "TaggingError",
    "find_where",
    "kind_name",
    "parse_target",
    "resolve",
    "tag_found",
    "tag_targets",
    "untag_discovered",
    "untag_targets",
]
