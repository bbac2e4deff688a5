"""The decision log: every routed request and the feedback given for it, in a database.

The service writes it (:mod:`irtrouter.serve`); learning from traffic, shadow evaluation and
export read it (:func:`~irtrouter.store.reading.read_log`). The schema lives in :mod:`irtrouter.store.records`; the
promise every backend keeps (committed before acknowledged, group commit, one bad row fails its
own request only, a write probe for health, retention) in :mod:`irtrouter.store.base`; the
backends, picked by :func:`open_store` from the URL:

* :mod:`~irtrouter.store.sqlite`: one SQLite file in WAL mode (the default, one host).
* :mod:`~irtrouter.store.postgres`: a PostgreSQL database shared by replicas on any hosts.
"""

from irtrouter.store.backends import backend_of, connect_readonly, open_store
from irtrouter.store.base import DecisionStore, redact_url
from irtrouter.store.records import SCHEMA_VERSION, DecisionRecord, query_hash
from irtrouter.store.sqlite import SQLiteStore, sqlite_path

__all__ = [
    "SCHEMA_VERSION",
    "DecisionRecord",
    "DecisionStore",
    "SQLiteStore",
    "backend_of",
    "connect_readonly",
    "open_store",
    "query_hash",
    "redact_url",
    "sqlite_path",
]
