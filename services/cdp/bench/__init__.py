"""Benchmarks behind `cdp bench`: the raw event store, ingest, and the whole pipeline."""
