"""moto without its per-region image catalogue: the same simulated AWS, a region's EC2 at a fraction of the cost.

moto builds each account × region's EC2 backend with its default images (44, the same everywhere) plus, unless
``MOTO_AMIS_PATH`` names an image file, the region's "latest" and ECS-optimised images: over a thousand more, which
cost seconds of CPU and megabytes of memory for every account × region a simulation touches. Nothing in isched reads
those images, so the demo, the benchmarks and the tests point ``MOTO_AMIS_PATH`` at moto's own default list: the
images that every region serves stay, the per-region catalogue goes.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from importlib import resources
from pathlib import Path

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
