"""Evaluation: every router trained and scored the same way, as in the IRT-Router paper.

``protocol`` (which queries train and which score: ID and OOD settings, IRT-Router section 5.1),
``routers/`` (the contenders as the harness sees them, and their registry), ``harness`` (train every
router of a setting, score it on its test split), ``metrics`` (Performance, Total Cost, Reward),
``prediction`` (AUC / ACC / RMSE / MAE of predicted P), ``curves`` (hypervolume, CPT, AIQ, APGR),
``ablations`` (the paper's ablations), ``suite`` (every dataset in one call), ``report`` (tables)
and ``plots`` (figures). Nothing tuned here ever reads a test split.
"""
