"""The decision log: every routed request and the feedback given for it, in a database.

The service writes it (:mod:`irtrouter.serve`); learning from traffic, shadow evaluation and
export read it. The schema lives in :mod:`irtrouter.store.records`; the backends:

* :mod:`~irtrouter.store.sqlite`: one SQLite file in WAL mode, group commit before acknowledging.
"""

from irtrouter.store.records import SCHEMA_VERSION, DecisionRecord, query_hash
from irtrouter.store.sqlite import SQLiteStore, sqlite_path

__all__ = ["SCHEMA_VERSION", "DecisionRecord", "SQLiteStore", "query_hash", "sqlite_path"]
