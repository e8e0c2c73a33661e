"""The demo's simulated AWS: moto without its per-region image catalogue, and with node-group tags.

moto builds each account × region's EC2 backend with its default images (44, the same everywhere) plus, unless
``MOTO_AMIS_PATH`` names an image file, the region's "latest" and ECS-optimised images: over a thousand more, which
cost seconds of CPU and megabytes of memory for every account × region a simulation touches. Nothing in isched reads
those images, so the demo, the benchmarks and the tests point ``MOTO_AMIS_PATH`` at moto's own default list: the
images that every region serves stay, the per-region catalogue goes. The demo also lets moto's EKS tag node groups
(:func:`node_group_tags`), which moto does for clusters only.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

ENV = "MOTO_AMIS_PATH"


def default_images_only() -> None:
    """Sets ``MOTO_AMIS_PATH`` to a copy of moto's default image list, unless it is already set. Call it before
    moto builds an EC2 backend (it reads the variable when a backend is made, and the list when moto's EC2 models are
    imported)."""
    if os.environ.get(ENV):
        return
    data = gzip.decompress(resources.files("moto").joinpath("ec2/resources/amis.json.gz").read_bytes())
    path = Path(tempfile.gettempdir()) / f"isched-moto-amis-{len(data)}.json"
    if not path.exists() or path.stat().st_size != len(data):
        # Written whole under another name, then renamed: concurrent processes never read half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".isched-moto-amis-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    os.environ[ENV] = str(path)


_TAG_CALLS = ("tag_resource", "untag_resource", "list_tags_for_resource")


@contextmanager
def node_group_tags() -> Iterator[None]:
    """For the duration, the simulated EKS tags, untags and lists the tags of managed node groups, as EKS does;
    moto does so for clusters only. The demo's node group is then tagged and scheduled like the real one would be."""
    from moto.eks.models import EKSBackend

    originals: dict[str, Callable[..., Any]] = {name: getattr(EKSBackend, name) for name in _TAG_CALLS}

    def group(backend: Any, arn: str) -> Any:
        return next((g for c in backend.clusters.values() for g in c.nodegroups.values() if g.arn == arn), None)

    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        found = group(self, resource_arn)
        if found is None:
            return originals["tag_resource"](self, resource_arn, tags)  # type: ignore[no-any-return]
        found.tags = {**(found.tags or {}), **tags}
        return None

    def untag_resource(self: Any, resource_arn: str, tag_keys: list[str]) -> None:
        found = group(self, resource_arn)
        if found is None:
            return originals["untag_resource"](self, resource_arn, tag_keys)  # type: ignore[no-any-return]
        keys = tag_keys if isinstance(tag_keys, list) else [tag_keys]
        found.tags = {k: v for k, v in (found.tags or {}).items() if k not in keys}
        return None

    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        found = group(self, resource_arn)
        if found is None:
            return originals["list_tags_for_resource"](self, resource_arn)  # type: ignore[no-any-return]
        return dict(found.tags or {})

    replacements = {
        "tag_resource": tag_resource,
        "untag_resource": untag_resource,
        "list_tags_for_resource": list_tags_for_resource,
    }
    for name, fn in replacements.items():
        setattr(EKSBackend, name, fn)
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(EKSBackend, name, fn)
