"""Data quality over the collector's log: plan violations, the catalog of what sources send, and
volume anomalies.

One projection (readmodel.py) folds the collector's log into SQL tables, a page at a time (hot
path: counts are summed per page and written as one upsert per table); violations.py,
catalog.py and anomalies.py read them. Every collector process answers QualityService from the
shared tables; whichever process commits a page first applies it (cdp.platform.readmodel).
"""
