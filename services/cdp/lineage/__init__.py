"""Lineage: the chain behind a value on a profile, or behind what a destination received.

Each hop is read from the service that owns it (its read RPCs, its published log and decision
records) and kept as ids to follow, not as a copy of the data; a hop the caller may not read is
reported as such, and personal values are only ever what the owning service showed this caller.
"""
