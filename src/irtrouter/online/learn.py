"""Re-estimating each LLM's ability from feedback, the query side frozen (``irtrouter learn``).

For every LLM that answered scored requests, the scored queries become items of the router's
frozen query side (:class:`~irtrouter.irt.items.ItemBank`, read off the predictor at the
routed embedding after the router's own warm-up), and its ability is the MAP estimate
(:func:`~irtrouter.onboard.quiz.map_ability`: the Newton solver of ``irtrouter onboard``) under a
Gaussian prior centred on its current ability:

* a router that was itself learnt keeps each LLM's posterior precision (``online.precision`` in
  ``weights.npz``), so learning again from its feedback is sequential Bayes: the prior is the
  parent's posterior;
* a trained router keeps no per-LLM posterior, so its prior covariance is the spread of the
  trained LLMs' abilities (:meth:`~irtrouter.irt.items.AbilityPrior.from_pool`, the ``pool``
  prior of the quiz) times ``prior_scale ** 2``: a few dozen rows move an LLM noticeably, a
  handful barely. The posterior from its training answers (whose scores the directory holds;
  :func:`~irtrouter.irt.items.ability_posterior`) is far tighter, standard errors 0.04-0.25 on
  the benchmark pools, and holds the query side fixed: from it, feedback would hardly move an LLM
  whose behaviour changed. The pool's spread is the prior on purpose.

LLMs without feedback keep their ability and precision exactly. Only the abilities change (the
query side, the calibration and the cost model are copied), and the new directory's lineage says
by how much. The parent directory is only read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irtrouter.errors import ConfigError
from irtrouter.irt.items import AbilityPrior, ItemBank
from irtrouter.onboard.quiz import map_ability
from irtrouter.online.feedback import DUPLICATE_RULE, query_embeddings, scored_requests
from irtrouter.routing.persistence import CONFIG_FILE, read_lineage, read_router_dir, write_router_dir
from irtrouter.routing.router import IRTRouter
from irtrouter.routing.saved import load_router
from irtrouter.store.reading import read_log

PRECISION_KEY = "online.precision"


@dataclass(frozen=True)
class AbilityUpdate:
    """One LLM's new ability: ``shift`` = new - old, ``standard_error`` after, rows used."""

    llm_id: str
    ability: np.ndarray
    precision: np.ndarray
    shift: np.ndarray
    standard_error: np.ndarray
    prior_standard_error: np.ndarray
    n_rows: int
    mean_score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n_feedback": self.n_rows,
            "mean_score": round(self.mean_score, 6),
            "shift": [round(float(v), 6) for v in self.shift],
            "shift_norm": round(float(np.linalg.norm(self.shift)), 6),
            "standard_error": [round(float(v), 6) for v in self.standard_error],
            "prior_standard_error": [round(float(v), 6) for v in self.prior_standard_error],
        }


def kept_precision(router: IRTRouter, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
    """The parent's posterior precision of every LLM's ability (n_llms, k, k), when it kept one
    that fits its abilities (a router learnt from feedback); None otherwise."""
    n, k = np.shape(router.predictor_.abilities_)
    kept = arrays.get(PRECISION_KEY)
    return kept if kept is not None and kept.shape == (n, k, k) else None


def ability_priors(router: IRTRouter, arrays: dict[str, np.ndarray], prior_scale: float = 1.0) -> list[AbilityPrior]:
    """Each LLM's prior, per the module docstring (the parent's posterior when it kept one)."""
    if not prior_scale > 0:
        raise ConfigError(f"prior_scale must be > 0, got {prior_scale!r}")
    theta = np.asarray(router.predictor_.abilities_, dtype=np.float64)
    kept = kept_precision(router, arrays)
    if kept is not None:
        return [AbilityPrior(theta[j], np.linalg.inv(kept[j])) for j in range(len(theta))]
    pool = AbilityPrior.from_pool(theta).covariance * prior_scale**2
    return [AbilityPrior(theta[j], pool) for j in range(len(theta))]


def update_abilities(
    router: IRTRouter,
    X: np.ndarray,
    answered_by: np.ndarray,
    scores: np.ndarray,
    priors: list[AbilityPrior],
) -> list[AbilityUpdate]:
    """MAP abilities of the LLMs in ``answered_by`` from their ``scores`` on embedded queries ``X``.

    Parameters
    ----------
    router : IRTRouter
        A router whose predictor's logit is linear in the ability (2PL, MIRT).
    X : ndarray (n, dim)
        Routed query embeddings (before warm-up: the router's own warm-up is applied here).
    answered_by : ndarray of str (n,)
    scores : ndarray (n,)
        In [0, 1].
    priors : list of AbilityPrior
        One per router LLM (:func:`ability_priors`).

    Examples
    --------
    >>> updates = update_abilities(router, X, np.array(["big"] * len(X)), np.zeros(len(X)), priors)  # doctest: +SKIP
    >>> updates[0].shift  # doctest: +SKIP
    """
    if len(X) == 0:
        return []
    features = router._predict_features(np.asarray(X, dtype=np.float32))[1]  # the warm-up routing applies
    bank = ItemBank.from_predictor(router.predictor_, features)
    out = []
    for j, llm_id in enumerate(router.llm_ids):
        rows = np.flatnonzero(answered_by == llm_id)
        if len(rows) == 0:
            continue
        prior = priors[j]
        theta, precision = map_ability(bank, rows, scores[rows], prior, start=prior.mean)
        out.append(
            AbilityUpdate(
                llm_id=llm_id,
                ability=theta,
                precision=precision,
                shift=theta - prior.mean,
                standard_error=np.sqrt(np.diag(np.linalg.inv(precision))),
                prior_standard_error=np.sqrt(np.diag(prior.covariance)),
                n_rows=len(rows),
                mean_score=float(np.mean(scores[rows])),
            )
        )
    return out


@dataclass(frozen=True)
class LearnReport:
    """What ``learn_router`` read, used and wrote."""

    out: Path
    version: int
    since: float | None
    updates: list[AbilityUpdate]
    counts: dict[str, int]


def training_time(directory: str | Path) -> float:
    """When a router directory was written: its lineage's ``created_at``, else (a trained router,
    which records none) the modification time of its ``config.json``."""
    lineage = read_lineage(directory)
    if lineage.created_at is not None:
        return lineage.created_at
    return (Path(directory) / CONFIG_FILE).stat().st_mtime


def learn_router(
    directory: str | Path,
    url: str,
    out: str | Path,
    since: float | None = None,
    prior_scale: float = 1.0,
    log: pd.DataFrame | None = None,
) -> LearnReport:
    """Learn a new router version from the feedback in the decision log.

    Parameters
    ----------
    directory : path
        The parent router (only read).
    url : str
        The decision log (``sqlite:///PATH``).
    out : path
        The new router's directory: must not exist yet, or be empty.
    since : float, optional
        Unix seconds: use decisions from then on. Default: when ``directory`` was written
        (:func:`training_time`), so a child never re-counts the feedback its parent learnt from.
    prior_scale : float
        Widens (> 1) or narrows the pool prior of a trained router (module docstring).
    log : DataFrame, optional
        Rows already read with :func:`~irtrouter.store.reading.read_log` (``url`` is then unused).

    Returns
    -------
    LearnReport

    Raises
    ------
    ConfigError
        When ``out`` is the parent, or exists and is not empty, or the router's predictor is not
        linear in the ability.

    Examples
    --------
    >>> report = learn_router("routers/v0", "sqlite:///runs/serve.sqlite", "routers/v1")  # doctest: +SKIP
    >>> report.version, [u.llm_id for u in report.updates]  # doctest: +SKIP
    """
    directory, out = Path(directory), Path(out)
    if out.resolve() == directory.resolve():
        raise ConfigError(f"--out {out} is the parent router: learning never modifies it; choose a new directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not empty: learning writes a new directory")
    router = load_router(directory)
    config, arrays = read_router_dir(directory)
    parent = read_lineage(directory)
    since = training_time(directory) if since is None else since
    rows = read_log(url, since=since, with_feedback_only=True) if log is None else log
    scored = scored_requests(rows)
    frame = scored.frame
    known = frame["answered_by"].isin(router.llm_ids).to_numpy(dtype=bool)
    frame = frame[known].reset_index(drop=True)
    X, ok = query_embeddings(router, frame)
    answered = frame["answered_by"].to_numpy(dtype=object)[ok]
    scores = frame["score"].to_numpy(dtype=np.float64)[ok]
    priors = ability_priors(router, arrays, prior_scale)
    updates = update_abilities(router, X[ok], answered, scores, priors)

    abilities = np.array(arrays["predictor.abilities"], copy=True)
    # LLMs without feedback keep the parent's precision exactly (not its covariance inverted back).
    kept = kept_precision(router, arrays)
    precision = np.stack([p.precision for p in priors]) if kept is None else np.array(kept, dtype=np.float64)
    for u in updates:
        j = router.llm_ids.index(u.llm_id)
        abilities[j] = u.ability.astype(abilities.dtype)
        precision[j] = u.precision
    arrays = {**arrays, "predictor.abilities": abilities, PRECISION_KEY: precision}
    counts = {
        "feedback_rows": scored.n_feedback_rows,
        "superseded": scored.n_superseded,
        "unanswered": scored.n_unanswered,
        "unknown_llm": int((~known).sum()),
        "no_query": int((~ok).sum()),
        "used": int(ok.sum()),
    }
    changes = {
        "since": since,
        "duplicate_rule": DUPLICATE_RULE,
        "n_feedback": counts["used"],
        "skipped": {k: counts[k] for k in ("superseded", "unanswered", "unknown_llm", "no_query")},
        "llms": {u.llm_id: u.to_json() for u in updates},
    }
    lineage = parent.child(str(directory.resolve()), changes, created_at=time.time())
    write_router_dir(out, config, arrays, lineage=lineage)
    return LearnReport(out, lineage.version, since, updates, counts)
