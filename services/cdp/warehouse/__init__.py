"""The warehouse: the platform's events, profiles (traits with provenance), identity graph and
audience memberships as rows of a PostgreSQL schema, kept up to date from the services' published
logs exactly once, with personal values as cdp.egress decides for a warehouse, and exported as
Parquet files for DuckDB. The table layout is in cdp.warehouse.tables.
"""
