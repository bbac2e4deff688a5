"""An OpenAI-compatible routing proxy: ``irtrouter serve DIR --config serve.yaml``.

* :mod:`~irtrouter.serve.config`: the validated ``serve.yaml``.
* :mod:`~irtrouter.serve.overrides`: request body -> routing request (the one place for per-request fields).
* :mod:`~irtrouter.serve.routing`: cost estimates, ``max_cost``, batched routing off the event loop.
* :mod:`~irtrouter.serve.upstream`: provider calls, timeouts, key redaction.
* the decision log lives in :mod:`irtrouter.store` (SQLite in WAL mode), committed before responding.
* :mod:`~irtrouter.serve.metrics`: Prometheus metrics.
* :mod:`~irtrouter.serve.app`: ``create_app(settings)``, the endpoints.

Nothing in the library imports this package.
"""

from irtrouter.serve.app import ServeSettings, create_app
from irtrouter.serve.config import ServeConfig, check_config, load_config, parse_config

__all__ = ["ServeConfig", "ServeSettings", "check_config", "create_app", "load_config", "parse_config"]
