"""Learning from traffic: the decision log (:mod:`irtrouter.store`) back into routers.

* ``feedback``: one score per request (the duplicate rule) and the query features of logged rows;
* ``learn``: each LLM's ability re-estimated from feedback, query side frozen, written as a new
  router version with its lineage (``irtrouter learn``);
* ``shadow``: off-policy (IPS, doubly robust) estimates of a candidate router on logged traffic
  (``irtrouter shadow``);
* ``drift``: calibration of logged P-hat against feedback, windowed and CUSUM (``irtrouter drift``);
* ``export``: the log as long results for a full retrain (``irtrouter data export``).

Imports point one way: online uses store, irt, routing and onboard; serve and cli use online.
"""
