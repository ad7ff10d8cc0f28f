"""Shared test configuration: Hypothesis profiles ("ci" is the default; "dev" runs longer)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

# the fixture hftcore's pytest plugin provides, also when hftcore runs from a checkout
from hftcore.testing import hftcore_latency  # noqa: F401

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=20000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA = Path(__file__).parent / "data"
