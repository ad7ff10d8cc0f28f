"""Venues: the simulated exchange, recorded-data replay and (live) exchange connections."""

from __future__ import annotations
