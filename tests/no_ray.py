"""A pytest plugin that makes ``ray`` unimportable for the whole run:
``PYTHONPATH=. pytest -p tests.no_ray tests/unit`` proves the unit tier needs no Ray at all,
not even its import."""

from __future__ import annotations

import sys

from tests.tier_guards import RefuseRay

sys.meta_path.insert(0, RefuseRay())
