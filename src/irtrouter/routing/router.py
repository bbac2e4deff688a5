"""IRTRouter: embeddings + an IRT predictor + warm-up + a cost model + the routing rule.

Training (``fit``) imports torch only for a predictor that trains with it (NIRT, the identity
model; MIRT and the 2PL train in numpy, :mod:`irtrouter.irt.training`); predicting and routing
are numpy only, so a loaded router (:func:`irtrouter.routing.saved.load_router`) serves queries
without torch. Every routing call
takes the same arguments, here and in :class:`~irtrouter.routing.policy.router.PolicyRouter`:
the trade-off (``alpha`` / ``beta``, or ``preference``; :class:`~irtrouter.routing.rule.TradeOff`),
``allowed_llms``, the ``rule`` (``linear`` or ``chebyshev``, :mod:`irtrouter.routing.rule`) and a
``budget``: RADAR's hard budget mode, a mean cost per query that the trade-off is calibrated to
(:mod:`irtrouter.routing.scalarise`) on up to 2,000 training queries kept with the router.

(Over 450 lines: one estimator whose training, validated choice (``_validate``), routing and saved
state read the same attributes; the maths of each part lives in its own module (rule, selection,
scalarise, explanation, persistence) and this class wires them.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np

from irtrouter._params import Params, check_is_fitted, parse_spec
from irtrouter.data.catalog import LLMCatalog, LLMSpec
from irtrouter.data.results import ResultsMatrix
from irtrouter.data.splits import validation_blocks
from irtrouter.embed.base import Embedder, text_cap
from irtrouter.embed.cache import CachedEmbedder, encode_texts
from irtrouter.embed.registry import make_embedder
from irtrouter.embed.threads import blas_threads, routing_threads
from irtrouter.errors import ConfigError, DataError, RouterFormatError, UnknownLLMError
from irtrouter.irt.abilities import ABILITY_NAMES
from irtrouter.irt.base import IRTPredictor
from irtrouter.irt.calibration import CALIBRATION_METHODS, Calibrator, fit_calibrator
from irtrouter.irt.registry import PREDICTORS, predictor_class
from irtrouter.irt.relevance import AbilityLabeller, make_labeller, relevance_vectors
from irtrouter.routing.cost import CostModel, cost_model_from_state, make_cost_model
from irtrouter.routing.decision import Explanation, Prediction, RoutingDecision, decision_records
from irtrouter.routing.explanation import explain_decisions
from irtrouter.routing.familiarity import FAMILIAR_K, Familiarity, familiarity
from irtrouter.routing.index import INDEX_METHODS, NeighbourIndex, build_index, index_from_state
from irtrouter.routing.neighbours import neighbour_mean, predict_near
from irtrouter.routing.persistence import CONFIG_FILE, prefixed, resolve_embedder, write_router_dir
from irtrouter.routing.rule import (
    RULES,
    TradeOff,
    allowed_mask,
    best_candidates,
    check_rule,
    routing_inputs,
    rule_scores,
)
from irtrouter.routing.scalarise import BudgetCalibration, BudgetReference, calibrate_budget
from irtrouter.routing.selection import Guard, mix
from irtrouter.routing.stacking import Stacker
from irtrouter.routing.tasks import TASK_K, TaskMeans, offers_tasks
from irtrouter.routing.tuning import (
    CONFIDENCE,
    CV_FOLDS,
    KNN_GRID,
    SELECTION_ALPHAS,
    SIMPLER_WITHIN,
    STACK,
    TASKS,
    WARMUP_GRID,
    best_key,
    cross_validate_stages,
    filled_scores,
    fit_stages,
    neighbour_means,
    paired_errors,
    select_by_validation,
    simplest_within,
)

log = logging.getLogger(__name__)

#: ``predictor="auto"``'s candidates. Measured in their place and not kept (docs/BENCHMARKS.md,
#: issue 12): MIRT with free ability offsets (``"mirt:offset_prior=1.0"``), and the 2PL at learning
#: rate 0.005 (0.6-0.8x the fit time, the same internal validation BCE); both lost Reward.
DEFAULT_CANDIDATES: tuple[str, ...] = ("mirt", "2pl")

#: ``calibration=`` values: none, per LLM by validation log-loss (auto), or one method for all.
CALIBRATIONS = ("none", "auto", "platt", "isotonic")


class IRTRouter(Params):
    """Route each query to the LLM with the best ``alpha * P - beta * C`` (or RADAR's Chebyshev rule).

    Parameters
    ----------
    predictor : {"mirt", "nirt", "2pl", "identity"}
        MIRT-Router (latent abilities), NIRT-Router (25 named abilities, relevance vectors),
        RADAR's 2PL (one free scalar ability per LLM or configuration) or LLM Bandit's variational
        identity vectors (:mod:`irtrouter.irt.identity`; the policy router builds on it).
    n_dims : int, optional
        Ability dimensions N; default: the predictor's own (MIRT 25, NIRT its 25 named abilities,
        2PL 1, identity 16).
    embedder : str
        Embedder spec (:func:`irtrouter.embed.make_embedder`): ``use`` (default), ``e5``, ``hashing``...
    warmup_lambda, warmup_k : float, int
        Query warm-up (eq. 10): weight of the mean of the ``warmup_k`` nearest training queries.
        0 disables it.
    relevance_k : int
        NIRT: unseen queries take the mean relevance of this many nearest training queries.
    neighbour_index : {"auto", "exact", "approximate"}
        How the nearest training queries are searched (:mod:`irtrouter.routing.index`): ``auto``
        (default) exactly below ``EXACT_BELOW`` training queries and by an HNSW graph above;
        ``approximate``: the graph at any size, for latency (measured at 5,608 training queries:
        one query's search ~0.7 -> ~0.1-0.25 ms, no decision changed on the LLMRouter test split;
        docs/BENCHMARKS.md, issue 16); ``exact``: at any size.
    cost_model : {"auto", "price", "tokens", "observed", "configuration"}
        See :mod:`irtrouter.routing.cost`.
    rule : {"linear", "chebyshev"}
        The routing rule when a call names none (:mod:`irtrouter.routing.rule`).
    calibration : {"none", "auto", "platt", "isotonic"}, optional
        Per-LLM calibration of P on validation queries carved from train
        (:mod:`irtrouter.irt.calibration`; ``auto`` picks per LLM by cross-fitted log-loss).
        Default: with ``predictor="auto"``, ``auto`` or ``none``, whichever routes better out of
        fold on the validation queries (:func:`~irtrouter.routing.tuning.cross_validate_stages`);
        else ``none``.
    guard : bool, optional
        Switch away from the best single LLM only when the predicted gain beats a margin tuned on
        validation queries, the bar raised by the predicted gain's spread where that pays
        (:mod:`irtrouter.routing.selection`). Default: on with ``predictor="auto"``.
    guard_confidence : float
        How sure the guard must be before it leaves the best single LLM at a trade-off: the
        standard errors its validation gain must clear (:func:`~irtrouter.routing.tuning.fit_guard`;
        0: the best margin on validation, whatever its noise).
    knn_blend : bool, optional
        Blend P with the mean score of the nearest training queries (RouterBench's kNN), the number
        of neighbours and the weight chosen on validation queries by log-loss (weight 1: the IRT
        model alone). Abilities, difficulties and explanations stay the IRT model's. Default: on
        with ``predictor="auto"``.
    stacking : bool, optional
        Judge, beside the blend and the calibrations, the stacked ensemble
        (:mod:`irtrouter.routing.stacking`: per LLM, a logistic regression on the logits of P and
        of the kNN means at 10, 50 and 200 neighbours, fitted on the validation queries); it routes
        in their place when it routes better out of fold. Needs the kNN blend's neighbours.
        Default: on with ``predictor="auto"``.
    task_routing : bool
        Judge too routing by the task alone (:mod:`irtrouter.routing.tasks`: each query gets the
        mean training scores of the task most of its 10 nearest training queries belong to, in the
        model's place, guarded as the rest); it routes when it routes better out of fold. Offered
        when every training query has a task and there are at least two. Off by default: queries of
        a new task that look like a training task are sent to that task's LLM, which no carve of
        the training tasks can see (routerdc_7llm OOD lost 1.68 Reward at 0.8; docs/BENCHMARKS.md).
    simpler_within : float
        ``predictor="auto"``: of the configurations judged out of fold (no calibration, a
        calibration, the stack), the simplest whose value is within this many standard errors of
        the best is kept (the one-standard-error rule,
        :func:`~irtrouter.routing.tuning.simplest_within`). Default 0: the best, whatever its
        noise (at 1 the Rewards moved both ways by several points; docs/BENCHMARKS.md, issue 12).
    novelty_gate : bool, optional
        Route a query unlike every training query (less familiar than 99% of the validation
        queries: :mod:`irtrouter.routing.familiarity`) by the model's own P, without the kNN blend,
        the stack, the calibration or the guard, which were tuned on queries like the training ones.
        Default: on with ``predictor="auto"``.
    refit : bool, optional
        After validation, refit the chosen predictor on every training query (True), or route with
        the fit the stages were tuned on, on the queries not held out (False: the stages were
        fitted to that model's errors, and one fit is saved; the neighbours are every training
        query either way). Default: False with ``predictor="auto"`` (measured: Rewards within 0.06
        at alpha 0.8 either way), True for a fixed predictor (MIRT with ``calibration="auto"``:
        lower test log-loss refitted on 7 of 10 test splits; docs/BENCHMARKS.md, issue 12).
    candidates : sequence of str
        ``predictor="auto"``: the predictors (each a name, or a name with its own parameters:
        ``"mirt:offset_prior=1.0"``) compared on validation queries by the routing objective over
        ``selection_alphas`` (guarded and calibrated as the router will route); the table is kept
        in ``training_["selection"]``.
    time_budget : float, optional
        ``predictor="auto"``: seconds the choice may take. The candidates are tried in their order,
        and one starts only while the validation has taken less than this; the first always runs,
        so the budget can be passed by one candidate's fit and the stages. The candidates left out
        are listed in ``training_["selection"]["time_budget"]``. The budget counts what a user
        waits for, including the loading of parts of torch by a process's first torch-trained fit
        (about 2.5 s measured; NIRT, the identity model: the default candidates train in numpy).
        Which candidates run depends on the machine's speed: to make the same choice
        everywhere, name the candidates instead. None (the default): every candidate.
    validation_fraction : float
        Share of each task's training queries carved out for calibration, the guard and the choice.
    validation_folds : int
        ``predictor="auto"``: cross-fitting. The family is chosen on the first carve, as with 1
        (the default); the winner is then fitted ``validation_folds - 1`` times more, each without
        the next disjoint carve of ``validation_fraction`` (:func:`~irtrouter.data.splits.validation_blocks`),
        and its stages are judged and fitted on the out-of-carve predictions of every carve (up to
        ``1 / validation_fraction`` times the queries). It still routes with the first carve's fit.
        Measured at 3 and 5: within the noise, no better on the whole (docs/BENCHMARKS.md, issue 12).
    tune_warmup : bool
        ``predictor="auto"``: choose the warm-up's ``(lambda, k)`` among ``WARMUP_GRID`` (the given
        pair first, kept on ties) by the winner's out-of-fold routing value with its kept stages,
        re-judged for each pair on the validation queries (no refit: the warm-up acts on the query
        features only). The pair chosen routes (``warmup_lambda_``, ``warmup_k_``) and is recorded
        in ``training_["selection"]["warmup"]``. Off by default.
    task_folds : bool
        ``predictor="auto"``: judge the calibration and the guard (and so the candidates) by the mean
        of two cross-validations of the validation queries, random folds and folds of whole tasks
        (a stage tuned on other tasks, judged on a task it did not see, as a router deployed on new
        tasks is); off (the default: measured, it did not pay, docs/BENCHMARKS.md issue 12), or
        with fewer than 3 tasks, random folds alone.
    predictor_params : dict, optional
        Extra arguments of the predictor (``max_epochs``, ``learning_rate``, ``hidden_units``...).
    random_state : int
        Seeds every random step (clustering, initialisation, batches).

    Examples
    --------
    >>> IRTRouter(predictor="2pl").get_params()["rule"]
    'linear'
    >>> router = IRTRouter(predictor="mirt", embedder="hashing").fit(results, catalog)  # doctest: +SKIP
    >>> decision = router.route("Prove that sqrt(2) is irrational", alpha=0.8)  # doctest: +SKIP
    >>> decision.llm_id, decision.p_hat  # doctest: +SKIP
    >>> router.route("Prove that sqrt(2) is irrational", rule="chebyshev", budget=0.002)  # doctest: +SKIP
    """

    #: ``config.json``'s ``router_kind`` (:mod:`irtrouter.routing.saved` maps it back to the class).
    router_kind: ClassVar[str] = "irt"
    #: The rules this router can route by.
    rules: ClassVar[tuple[str, ...]] = RULES

    def __init__(
        self,
        predictor: str = "mirt",
        n_dims: int | None = None,
        embedder: str = "use",
        warmup_lambda: float = 0.3,
        warmup_k: int = 5,
        relevance_k: int = 5,
        neighbour_index: str = "auto",
        cost_model: str = "auto",
        rule: str = "linear",
        calibration: str | None = None,
        guard: bool | None = None,
        guard_confidence: float = CONFIDENCE,
        knn_blend: bool | None = None,
        stacking: bool | None = None,
        task_routing: bool = False,
        simpler_within: float = SIMPLER_WITHIN,
        novelty_gate: bool | None = None,
        refit: bool | None = None,
        candidates: Sequence[str] = DEFAULT_CANDIDATES,
        selection_alphas: Sequence[float] = SELECTION_ALPHAS,
        time_budget: float | None = None,
        validation_fraction: float = 0.2,
        validation_folds: int = 1,
        tune_warmup: bool = False,
        task_folds: bool = False,
        predictor_params: dict[str, Any] | None = None,
        random_state: int = 0,
    ) -> None:
        self.predictor = predictor
        self.n_dims = n_dims
        self.embedder = embedder
        self.warmup_lambda = warmup_lambda
        self.warmup_k = warmup_k
        self.relevance_k = relevance_k
        self.neighbour_index = neighbour_index
        self.cost_model = cost_model
        self.rule = rule
        self.calibration = calibration
        self.guard = guard
        self.guard_confidence = guard_confidence
        self.knn_blend = knn_blend
        self.stacking = stacking
        self.task_routing = task_routing
        self.simpler_within = simpler_within
        self.novelty_gate = novelty_gate
        self.refit = refit
        self.candidates = candidates
        self.selection_alphas = selection_alphas
        self.time_budget = time_budget
        self.validation_fraction = validation_fraction
        self.validation_folds = validation_folds
        self.tune_warmup = tune_warmup
        self.task_folds = task_folds
        self.predictor_params = predictor_params
        self.random_state = random_state

    # -- training --------------------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        if self.predictor != "auto":
            return [self.predictor]
        names = list(self.candidates)
        if not names:
            raise ConfigError("predictor='auto' needs at least one candidate predictor")
        return names

    def _calibration_method(self) -> str:
        method = self.calibration or ("auto" if self.predictor == "auto" else "none")
        if method not in CALIBRATIONS:
            raise ConfigError(f"unknown calibration {method!r}; expected one of {', '.join(CALIBRATIONS)}")
        return method

    def _guarded(self) -> bool:
        return bool(self.predictor == "auto" if self.guard is None else self.guard)

    def _blended(self) -> bool:
        return bool(self.predictor == "auto" if self.knn_blend is None else self.knn_blend)

    def _gated(self) -> bool:
        return bool(self.predictor == "auto" if self.novelty_gate is None else self.novelty_gate)

    def _refitted(self) -> bool:
        return bool(self.predictor != "auto" if self.refit is None else self.refit)

    def _stacked(self) -> bool:
        return self._blended() and bool(self.predictor == "auto" if self.stacking is None else self.stacking)

    def _task_routing_on(self) -> bool:
        return bool(self.task_routing)

    def _by_task(self, tasks: Sequence[str]) -> bool:
        return self._task_routing_on() and offers_tasks(tasks)

    def _validate_params(self) -> dict[str, int]:
        """Check the parameters; returns each candidate predictor's number of dimensions."""
        dims = {name: _candidate_class(name).resolve_n_dims(self.n_dims) for name in self._candidates()}
        if not 0 <= self.warmup_lambda <= 1:
            raise ConfigError(f"warmup_lambda must be in [0, 1], got {self.warmup_lambda}")
        for name in ("warmup_k", "relevance_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.neighbour_index not in INDEX_METHODS:
            raise ConfigError(
                f"unknown neighbour_index {self.neighbour_index!r}; expected one of {', '.join(INDEX_METHODS)}"
            )
        check_rule(self.rule, self.rules)
        self._calibration_method()
        if self.stacking and not self._blended():
            raise ConfigError("stacking reads the kNN blend's neighbours: it needs knn_blend on")
        if not (np.isfinite(self.guard_confidence) and self.guard_confidence >= 0):
            raise ConfigError(f"guard_confidence must be finite and >= 0, got {self.guard_confidence}")
        if not (np.isfinite(self.simpler_within) and self.simpler_within >= 0):
            raise ConfigError(f"simpler_within must be finite and >= 0, got {self.simpler_within}")
        if self.time_budget is not None and not (np.isfinite(self.time_budget) and self.time_budget > 0):
            raise ConfigError(f"time_budget must be a number of seconds > 0 (or None), got {self.time_budget}")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not 1 <= self.validation_folds <= round(1 / self.validation_fraction):
            raise ConfigError(
                f"validation_folds must be between 1 and 1 / validation_fraction "
                f"({round(1 / self.validation_fraction)}), got {self.validation_folds}"
            )
        for a in self.selection_alphas:
            TradeOff.of(a)
        return dims

    def fit(
        self,
        results: ResultsMatrix,
        catalog: LLMCatalog,
        *,
        embedder: Embedder | None = None,
        labeller: AbilityLabeller | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        progress: bool = False,
        query_embeddings: np.ndarray | None = None,
    ) -> IRTRouter:
        """Learn the router from training results.

        Parameters
        ----------
        results : ResultsMatrix
            Training queries x LLMs (unobserved cells allowed).
        catalog : LLMCatalog
            Prices and profiles; must list every LLM of ``results``.
        embedder : Embedder, optional
            Use this instance instead of building ``self.embedder`` (then pass it to
            ``load_router`` too).
        labeller : AbilityLabeller, optional
            NIRT: who names each cluster's abilities (default: an OpenAI-compatible endpoint when
            ``$IRTROUTER_LABELLER_BASE_URL`` is set, else the offline labeller).
        cache_dir, use_cache :
            The on-disk embedding cache (default ``$IRTROUTER_CACHE_DIR`` or ``~/.cache/irtrouter``).
        progress : bool
            Progress bars for embedding, labelling and training.
        query_embeddings : ndarray (n_queries, dim), optional
            ``results.queries`` already embedded by this embedder (e.g. shared by every router of
            an evaluation); they are then not embedded again.
        """
        dims = self._validate_params()
        started = time.perf_counter()
        for m in results.llm_ids:
            if m not in catalog:
                raise UnknownLLMError(m, catalog.ids, f"{results.source} vs catalog {catalog.source}")
        if results.n_queries < 2:
            raise DataError("need at least 2 training queries", source=results.source)
        self.catalog_ = catalog.subset(results.llm_ids)
        base = embedder if embedder is not None else make_embedder(self.embedder)
        self.embedder_spec_ = self.embedder if embedder is None else None
        self.embedder_ = base
        encoder: Any = CachedEmbedder(base, cache_dir) if use_cache else base

        def embed(texts: Sequence[str], desc: str) -> np.ndarray:
            return encode_texts(encoder, texts, progress, desc)

        if query_embeddings is None:
            X_queries = embed(results.queries, "embedding queries")
        else:
            X_queries = np.asarray(query_embeddings, dtype=np.float32)
            if X_queries.shape != (results.n_queries, base.dim):
                raise ConfigError(
                    f"query_embeddings has shape {X_queries.shape}, expected ({results.n_queries}, {base.dim})"
                )
        X_llms = embed([self.catalog_[m].profile_text for m in results.llm_ids], "embedding LLM profiles")
        embed_seconds = time.perf_counter() - started
        stages = _StageClock(started)
        stages.lap("embed")

        self.cost_model_: CostModel = make_cost_model(self.cost_model, results).fit(results, self.catalog_)
        self.relevance_info_: dict[str, Any] | None = None
        self.train_relevance_: np.ndarray | None = None
        if any(_candidate_class(name).requires_context for name in dims):  # NIRT's relevance vectors
            chosen = labeller or make_labeller(encoder)
            rel = relevance_vectors(
                results.queries, X_queries, chosen, random_state=self.random_state, progress=progress
            )
            self.train_relevance_ = rel.vectors
            self.relevance_info_ = {
                "labeller": rel.labeller,
                "abilities": list(ABILITY_NAMES),
                "n_clusters": len(rel.cluster_abilities),
                "cluster_abilities": [[ABILITY_NAMES[i] for i in c] for c in rel.cluster_abilities],
            }
            stages.lap("relevance")

        self.warmup_lambda_, self.warmup_k_ = self.warmup_lambda, self.warmup_k  # tune_warmup may change them
        self.calibrator_: Calibrator | None = None
        self.guard_: Guard | None = None
        selection: dict[str, Any] | None = None
        winner = next(iter(dims))
        self.knn_blend_: tuple[int, float] | None = None
        self.stacker_: Stacker | None = None
        self.task_means_: TaskMeans | None = None
        self.familiarity_: Familiarity | None = None
        fitted: IRTPredictor | None = None
        self.train_scores_ = np.asarray(results.scores, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            self.score_prior_ = np.nan_to_num(np.nanmean(results.scores, axis=0), nan=0.5)
        needs_validation = (
            self._calibration_method() != "none" or self._guarded() or self._blended() or self._task_routing_on()
        )
        validated = needs_validation or self._gated() or len(dims) > 1
        if not validated and (self.validation_folds > 1 or self.tune_warmup):
            raise ConfigError(
                "validation_folds and tune_warmup tune the stages fitted on validation queries: they need "
                "predictor='auto' (or a calibration, the guard, the kNN blend or the novelty gate)"
            )
        if validated:
            winner, selection, fitted = self._validate(results, X_queries, X_llms, dims, progress)
            stages.lap("validation")
        if not _candidate_class(winner).requires_context:
            self.train_relevance_, self.relevance_info_ = None, None
        self.predictor_kind_ = _candidate_class(winner).kind
        fit_queries = results.n_queries
        if fitted is not None and not self._refitted():
            self.predictor_ = fitted  # the model the stages were tuned on
            assert selection is not None
            fit_queries -= selection["n_validation_queries"]
        else:
            self.predictor_ = self._new_predictor(winner, dims[winner])
            self.predictor_.fit(
                X_queries,
                X_llms,
                results.scores,
                llm_ids=results.llm_ids,
                context=self.train_relevance_,
                groups=results.tasks,
                progress=progress,
                **_weights(results),
            )
            stages.lap("fit")
        if self.guard_ is not None:
            # The default LLM: best mean on every training query, holes filled by the final model.
            p_train = self._calibrated(self.predictor_.predict_proba(X_queries, self.train_relevance_))
            mean_score = filled_scores(results.scores, p_train).mean(axis=0)
            mean_cost = self.cost_model_.normalised(results.queries).mean(axis=0)
            self.guard_ = replace(self.guard_, mean_score=mean_score, mean_cost=mean_cost)
        self.neighbours_ = build_index(X_queries, self.neighbour_index)  # auto: exact below EXACT_BELOW
        # For explanations: difficulty percentiles and the task of the nearest training queries.
        self.train_difficulty_sorted_ = self._training_difficulty_sorted()
        self.train_tasks_: tuple[str, ...] | None = tuple(results.tasks)
        self.budget_reference_: BudgetReference | None = BudgetReference.of_training(
            self.cost_model_, results.queries, self.random_state
        )
        self.budget_calibrations_: dict[tuple[Any, ...], BudgetCalibration] = {}
        stages.lap("finish")
        self.training_ = {
            "source": results.source,
            "n_queries": results.n_queries,
            "n_llms": results.n_llms,
            "n_observed": results.n_observed,
            "fit_queries": fit_queries,  # the routing model's (the rest validated the stages when not refitted)
            "tasks": results.task_names(),
            "embed_seconds": round(embed_seconds, 3),
            "train_seconds": round(self.predictor_.train_seconds_, 3),
            "train_engine": self.predictor_.train_engine_,  # numpy or torch (irt/training.py)
            "epochs": len(self.predictor_.history_),
            "best_epoch": self.predictor_.best_epoch_,
            "best_val_bce": min(h["val_bce"] for h in self.predictor_.history_),
            "stage_seconds": stages.seconds,
            **({"selection": selection} if selection is not None else {}),
        }
        log.info(
            "trained %s on %d queries x %d LLMs in %.1fs",
            winner,
            results.n_queries,
            results.n_llms,
            time.perf_counter() - started,
        )
        return self

    def _new_predictor(self, name: str, n_dims: int) -> IRTPredictor:
        kind, own = candidate_spec(name)
        # The candidate's own parameters are its defaults; the user's predictor_params override them.
        params = {"n_dims": n_dims, "random_state": self.random_state, **own, **(self.predictor_params or {})}
        try:
            return predictor_class(kind)(**params)
        except TypeError as exc:
            raise ConfigError(f"bad predictor_params for {name}: {exc}") from None

    def _validate(
        self, results: ResultsMatrix, X: np.ndarray, X_llms: np.ndarray, dims: dict[str, int], progress: bool
    ) -> tuple[str, dict[str, Any], IRTPredictor]:
        """Fit each candidate on most of the training queries and judge it on the rest (calibrated
        and guarded as it will route); sets the winner's stages (``calibrator_``, ``guard_``,
        ``knn_blend_``, ``stacker_``) and returns its name, the selection record and its fit."""
        started = time.perf_counter()
        blocks = validation_blocks(results, self.validation_fraction, self.random_state, self.validation_folds)
        val_rows = blocks[0]
        fit_rows = np.setdiff1d(np.arange(results.n_queries), val_rows)
        fit_part, val_part = results.take(fit_rows), results.take(val_rows)
        index = cast(NeighbourIndex, _SearchOnce(build_index(X[fit_rows], self.neighbour_index)))
        X_val = X[val_rows]  # one array for every candidate, so its neighbours are searched once
        C_fit, C_val = self.cost_model_.normalised(fit_part.queries), self.cost_model_.normalised(val_part.queries)
        method = self._calibration_method()
        methods = CALIBRATION_METHODS if method == "auto" else (method,)

        def calibrate(p: np.ndarray, Y: np.ndarray) -> Calibrator:
            return fit_calibrator(p, Y, results.llm_ids, methods, self.random_state)

        # Calibration is itself chosen (out of fold) unless the user fixed it.
        calibrators: dict[str, Any] = {} if method == "none" else {method: calibrate}
        if method == "none" or (self.calibration is None and self.predictor == "auto"):
            calibrators = {"none": None, **calibrators}
        # The guard is not chosen so: it is the floor (on validation, never below the best single
        # LLM), its margins already span "always switch" (0) to "never" (inf), and turning it off
        # on a noisy out-of-fold difference gave up that floor (measured, docs/BENCHMARKS.md).
        guards = [self._guarded()]
        by_task = bool(self.task_folds) and len(set(val_part.tasks)) >= 3
        task_routing = self._by_task(results.tasks)
        values: dict[str, float] = {}
        family_values: dict[str, np.ndarray] = {}  # per query, each family's judged configuration
        configs: dict[str, tuple[str, bool]] = {}
        kept: dict[
            str,
            tuple[
                np.ndarray, dict[int, np.ndarray] | None, np.ndarray, IRTPredictor, np.ndarray | None, np.ndarray | None
            ],
        ] = {}
        cv_table: list[dict[str, Any]] = []
        over_budget: list[str] = []
        seconds: dict[str, float] = {}  # per candidate: fitted and judged
        for name, n_dims in dims.items():
            if kept and self.time_budget is not None and time.perf_counter() - started >= self.time_budget:
                over_budget.append(name)
                continue
            began = time.perf_counter()
            model, rel_fit = self._fit_candidate(name, n_dims, X, X_llms, fit_rows, fit_part, progress)
            p_val, near = self._held_out_p(model, index, rel_fit, X_val)
            p_fit = model.predict_proba(X[fit_rows], rel_fit)  # fills the holes of the training means
            means, task_p = self._neighbour_inputs(fit_part, near, p_val, task_routing)
            cv = self._judge(
                p_val, means, p_fit, fit_part, C_fit, val_part.scores, C_val, calibrators, self._stacked(),
                val_part.tasks if by_task else None, task_p,
            )  # fmt: skip
            allowed_cv = {key: v for key, v in cv.items() if key[1] in guards}
            # Listed simplest first (none, the calibrations, the stack): a simpler configuration
            # within simpler_within standard errors of the best is kept.
            configs[name] = simplest_within(allowed_cv, self.simpler_within)
            mean_cv = {key: float(v.mean()) for key, v in allowed_cv.items()}
            # The family is judged without the stack, whose kNN terms make up for a wrong family's
            # errors (measured on synthetic 2PL data: the stacked MIRT tied the true 2PL), so the
            # abilities kept are those of the model that explains the data; the stack then routes
            # for the winner if it routes better out of fold. Routing by the task reads no model.
            judged = best_key({key: v for key, v in mean_cv.items() if key[0] not in (STACK, TASKS)})
            values[name], family_values[name] = mean_cv[judged], allowed_cv[judged]
            cv_table += [{"candidate": name, **row} for row in _configuration_rows(allowed_cv)]
            kept[name] = (p_val, means, p_fit, model, near, task_p)
            seconds[name] = time.perf_counter() - began
        winner, table = select_by_validation(values)
        family_errors = paired_errors(family_values)  # how sure the family choice is
        for row in table:
            row["se_vs_chosen"] = round(family_errors[row["candidate"]], 6)
            row["seconds"] = round(seconds[row["candidate"]], 3)
        cal_name, guarded = configs[winner]
        p_val, means, p_fit, model, near, task_p = kept[winner]
        warmup: dict[str, Any] | None = None
        if self.tune_warmup and cal_name == TASKS:
            warmup = {"skipped": "routing by the neighbours' task reads no warm-up"}
        elif self.tune_warmup:
            rel = self._context_of(winner)
            p_val, warmup = self._tune_warmup(
                model, index, None if rel is None else rel[fit_rows], X_val, p_val, means, (cal_name, guarded),
                calibrators, p_fit, fit_part, C_fit, val_part, C_val, by_task,
            )  # fmt: skip
        p_stage, means_stage, Y_stage, C_stage, task_stage = p_val, means, val_part.scores, C_val, task_p
        cross_fit = None
        if len(blocks) > 1:  # the winner's out-of-block predictions on the other blocks
            began = time.perf_counter()
            parts = [(p_val, means, val_part.scores, C_val, task_p)]
            parts += [
                self._out_of_block(results, X, X_llms, winner, dims[winner], rows, progress) for rows in blocks[1:]
            ]
            p_stage = np.concatenate([q[0] for q in parts])
            block_means = [q[1] for q in parts if q[1] is not None]  # all blocks or none (the blend's)
            means_stage = None if means is None else {k: np.concatenate([m[k] for m in block_means]) for k in means}
            Y_stage, C_stage = np.concatenate([q[2] for q in parts]), np.concatenate([q[3] for q in parts])
            task_stage = None if task_p is None else np.concatenate([q[4] for q in parts])
            # The configuration is judged again on every block (more queries, less noise).
            tasks_stage = [t for rows in blocks for t in results.take(rows).tasks] if by_task else None
            pooled = self._judge(
                p_stage, means_stage, p_fit, fit_part, C_fit, Y_stage, C_stage, calibrators, self._stacked(),
                tasks_stage, task_stage,
            )  # fmt: skip
            pooled = {key: v for key, v in pooled.items() if key[1] in guards}
            configs[winner] = simplest_within(pooled, self.simpler_within)
            cal_name, guarded = configs[winner]
            cross_fit = {
                "folds": len(blocks),
                "n_queries": len(Y_stage),
                "table": [
                    {**row, "kept": (row["calibration"], row["guard"]) == configs[winner]}
                    for row in _configuration_rows(pooled)
                ],
                "seconds": round(time.perf_counter() - began, 3),
            }
        for row in cv_table:
            row["kept"] = row["candidate"] == winner and (row["calibration"], row["guard"]) == configs[winner]
        if cal_name == TASKS:  # the task means in the model's place (fitted below on every training query)
            assert task_stage is not None
            p_stage, means_stage = task_stage, None
            # From the scores as saved, so a loaded router rebuilds exactly these means.
            self.task_means_ = TaskMeans.fit(results.tasks, self.train_scores_, self.score_prior_)
        stages = fit_stages(
            p_stage, means_stage, p_fit, fit_part.scores, C_fit, Y_stage, C_stage, self.selection_alphas,
            calibrators.get(cal_name), guarded, stack=cal_name == STACK, confidence=self.guard_confidence,
        )  # fmt: skip
        self.calibrator_, self.guard_, self.knn_blend_ = stages.calibrator, stages.guard, stages.blend
        self.stacker_ = stages.stacker
        if self._gated():
            if near is None or near.shape[1] < FAMILIAR_K:
                near = index.search(X_val, FAMILIAR_K)
            self.familiarity_ = Familiarity.fit(familiarity(X_val, index.embeddings, near))
        record = {
            "chosen": winner,
            "table": table,
            "alphas": list(self.selection_alphas),
            "n_validation_queries": val_part.n_queries,
            "cross_validation": {"folds": CV_FOLDS, "task_folds": by_task, "table": cv_table},
            "cross_fit": cross_fit,
            "warmup": warmup,
            "knn_blend": self._blend_record(),
            "stacking": None if self.stacker_ is None else self.stacker_.report(results.llm_ids),
            "task_routing": None if self.task_means_ is None else self.task_means_.report(results.llm_ids),
            "simpler_within": self.simpler_within,
            "novelty_gate": None if self.familiarity_ is None else self.familiarity_.report(),
            "refit": self._refitted(),
            "calibration": None if self.calibrator_ is None else self.calibrator_.report,
            "guard": None if self.guard_ is None else self.guard_.validation,
            "time_budget": None if self.time_budget is None else {"seconds": self.time_budget, "left_out": over_budget},
            "seconds": round(time.perf_counter() - started, 3),
        }
        return winner, record, model

    def _tune_warmup(
        self, model: IRTPredictor, index: NeighbourIndex, rel_fit: np.ndarray | None, X_val: np.ndarray,
        p_val: np.ndarray, means: dict[int, np.ndarray] | None, config: tuple[str, bool], calibrators: dict[str, Any],
        p_fit: np.ndarray, fit_part: ResultsMatrix, C_fit: np.ndarray, val_part: ResultsMatrix, C_val: np.ndarray,
        by_task: bool,
    ) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
        """``tune_warmup``: each pair of ``WARMUP_GRID`` (the router's own first) re-predicts the
        validation queries and the kept configuration ``config`` is judged out of fold on them; the
        best pair is set (``warmup_lambda_``, ``warmup_k_``). Returns its validation P and the record."""
        began = time.perf_counter()
        cal_name = config[0]
        judged = {} if cal_name == STACK else {cal_name: calibrators.get(cal_name)}
        values: dict[tuple[float, int], np.ndarray] = {}
        predictions: dict[tuple[float, int], np.ndarray] = {}
        for lam, k in dict.fromkeys([(self.warmup_lambda, self.warmup_k), *WARMUP_GRID]):
            p = p_val
            if (lam, k) != (self.warmup_lambda, self.warmup_k):
                p = self._held_out_p(model, index, rel_fit, X_val, (lam, k))[0]
            values[(lam, k)] = self._judge(
                p, means, p_fit, fit_part, C_fit, val_part.scores, C_val, judged, cal_name == STACK,
                val_part.tasks if by_task else None,
            )[config]  # fmt: skip
            predictions[(lam, k)] = p
        best = best_key({pair: float(v.mean()) for pair, v in values.items()})
        self.warmup_lambda_, self.warmup_k_ = best
        errors = paired_errors(values)
        table = [
            {"lambda": lam, "k": k, "cv_value": round(float(v.mean()), 6), "se_vs_best": round(errors[(lam, k)], 6)}
            for (lam, k), v in values.items()
        ]
        record = {"lambda": best[0], "k": best[1], "table": table, "seconds": round(time.perf_counter() - began, 3)}
        return predictions[best], record

    def _judge(
        self, p: np.ndarray, means: dict[int, np.ndarray] | None, p_fit: np.ndarray, fit_part: ResultsMatrix,
        C_fit: np.ndarray, Y: np.ndarray, C: np.ndarray, calibrators: dict[str, Any], stack: bool,
        task_groups: Sequence[str] | None = None, task_p: np.ndarray | None = None,
    ) -> dict[tuple[str, bool], np.ndarray]:  # fmt: skip
        """Each stage configuration's out-of-fold value per validation query
        (:func:`~irtrouter.routing.tuning.cross_validate_stages`; with ``task_p``, routing by the
        task too); with ``task_groups``, the mean of that judgement and one by folds of whole tasks
        (as on new tasks)."""

        def judge(groups: Sequence[str] | None) -> dict[tuple[str, bool], np.ndarray]:
            return cross_validate_stages(
                p, means, p_fit, fit_part.scores, C_fit, Y, C, self.selection_alphas, calibrators, self.random_state,
                groups=groups, stack=stack, confidence=self.guard_confidence, task_p=task_p,
            )  # fmt: skip

        cv = judge(None)
        if task_groups is None:
            return cv
        on_new = judge(task_groups)
        return {key: 0.5 * (v + on_new[key]) for key, v in cv.items()}

    def _out_of_block(
        self, results: ResultsMatrix, X: np.ndarray, X_llms: np.ndarray, name: str, n_dims: int,
        rows: np.ndarray, progress: bool,
    ) -> tuple[np.ndarray, dict[int, np.ndarray] | None, np.ndarray, np.ndarray, np.ndarray | None]:  # fmt: skip
        """``(P, kNN means, scores, costs, task means)`` of the training queries at ``rows``,
        predicted by ``name`` fitted on every other training query (its neighbours searched among
        those)."""
        fit_rows = np.setdiff1d(np.arange(results.n_queries), rows)
        fit_part, held = results.take(fit_rows), results.take(rows)
        model, rel_fit = self._fit_candidate(name, n_dims, X, X_llms, fit_rows, fit_part, progress)
        p, near = self._held_out_p(model, build_index(X[fit_rows], self.neighbour_index), rel_fit, X[rows])
        means, task_p = self._neighbour_inputs(fit_part, near, p, self._by_task(results.tasks))
        return p, means, held.scores, self.cost_model_.normalised(held.queries), task_p

    def _neighbour_inputs(
        self, fit_part: ResultsMatrix, near: np.ndarray | None, p: np.ndarray, by_task: bool
    ) -> tuple[dict[int, np.ndarray] | None, np.ndarray | None]:
        """What the stages read of held-out queries' neighbours among ``fit_part``: the kNN means
        (when blended) and the means of their task (``by_task``); holes take the mean of ``p``."""
        means, task_p = None, None
        if self._blended():
            assert near is not None
            means = neighbour_means(fit_part.scores, near, p.mean(axis=0))
        if by_task:
            assert near is not None
            task_p = TaskMeans.fit(fit_part.tasks, fit_part.scores, p.mean(axis=0)).predict(near)
        return means, task_p

    def _fit_candidate(
        self, name: str, n_dims: int, X: np.ndarray, X_llms: np.ndarray, fit_rows: np.ndarray,
        fit_part: ResultsMatrix, progress: bool,
    ) -> tuple[IRTPredictor, np.ndarray | None]:  # fmt: skip
        """Candidate ``name`` fitted on the training queries at ``fit_rows``, and their relevance
        vectors when it reads them."""
        rel = self._context_of(name)
        rel_fit = None if rel is None else rel[fit_rows]
        model = self._new_predictor(name, n_dims).fit(
            X[fit_rows], X_llms, fit_part.scores, llm_ids=fit_part.llm_ids, context=rel_fit,
            groups=fit_part.tasks, progress=progress, **_weights(fit_part),
        )  # fmt: skip
        return model, rel_fit

    def _held_out_p(
        self, model: IRTPredictor, index: NeighbourIndex, rel_fit: np.ndarray | None, X: np.ndarray,
        warmup: tuple[float, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        """``(P, neighbours)`` of queries the model was not fitted on, warmed up from ``index`` (its
        fitting queries) as routing will (or by ``warmup``'s lambda and k); the neighbours reach the
        kNN stages' largest k."""
        lam, k = (self.warmup_lambda_, self.warmup_k_) if warmup is None else warmup
        p, _, _, near = predict_near(
            model, index, rel_fit, X, lam, k, self.relevance_k,
            extra_k=max(KNN_GRID) if self._blended() else TASK_K if self._task_routing_on() else 0,
        )  # fmt: skip
        return p, near

    def _context_of(self, name: str) -> np.ndarray | None:
        """The training queries' relevance vectors when candidate ``name`` reads them (NIRT)."""
        return self.train_relevance_ if _candidate_class(name).requires_context else None

    def _blend_record(self) -> dict[str, Any] | None:
        """``knn_blend_`` as saved and reported (``_restore`` reads it back)."""
        return None if self.knn_blend_ is None else {"k": self.knn_blend_[0], "irt_weight": self.knn_blend_[1]}

    def _calibrated(self, p_hat: np.ndarray) -> np.ndarray:
        return p_hat if self.calibrator_ is None else self.calibrator_.transform(p_hat)

    # -- prediction ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_is_fitted(self, "predictor_", "call fit() or load_router()")

    def _training_difficulty_sorted(self) -> np.ndarray:
        """Sorted difficulties of the training queries (from their stored embeddings)."""
        X, rel = self.neighbours_.embeddings, self.train_relevance_
        return np.sort(self.predictor_.query_difficulty(X, rel).astype(np.float64))

    @property
    def llm_ids(self) -> tuple[str, ...]:
        self._check_fitted()
        return self.predictor_.llm_ids_

    def embed(self, queries: Sequence[str], use_cache: bool = False, cache_dir: str | Path | None = None) -> np.ndarray:
        """Embed queries with the router's embedder (validating the texts); ``use_cache`` reads and
        fills the on-disk cache in ``cache_dir`` (default ``$IRTROUTER_CACHE_DIR``), for texts that
        come back (quiz pools, evaluation sets) rather than live queries."""
        self._check_fitted()
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise DataError("empty query", row=i, field="query")
        encoder = CachedEmbedder(self.embedder_, cache_dir) if use_cache else self.embedder_
        return encode_texts(encoder, queries)

    def _predict_features(
        self, X: np.ndarray, warmup_lambda: float | None = None
    ) -> tuple[
        np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None, np.ndarray | None
    ]:  # fmt: skip
        """``(p_hat, features, context, neighbours, unfamiliar, task)`` of embedded queries: the warm-up
        and NIRT's relevance from the nearest training queries, the predictor, then the kNN stages
        and the calibration, or the means of the neighbours' task in their place (``task``: each
        query's, when the router routes by the task); queries unlike every training query
        (``unfamiliar``, when the router has the novelty gate) keep the model's own P."""
        lam = self.warmup_lambda_ if warmup_lambda is None else warmup_lambda
        blend, stacker, gate, task_means = self.knn_blend_, self.stacker_, self.familiarity_, self.task_means_
        extra_k = max(0 if blend is None else blend[0], 0 if stacker is None else stacker.max_k)
        extra_k = max(extra_k, 0 if gate is None else FAMILIAR_K, 0 if task_means is None else TASK_K)
        p_hat, features, context, near = predict_near(
            self.predictor_, self.neighbours_, self.train_relevance_, X, lam, self.warmup_k_, self.relevance_k,
            extra_k=extra_k,
        )  # fmt: skip
        unfamiliar = p_model = task = None
        if gate is not None:
            assert near is not None
            unfamiliar = gate.unfamiliar(np.atleast_2d(X), self.neighbours_.embeddings, near)[0]
            p_model = p_hat[unfamiliar]
        if extra_k:
            assert near is not None
            trained = self.train_scores_.shape[1]  # LLMs added later have no neighbour scores
            if stacker is not None:
                means = {k: neighbour_mean(self.train_scores_, near, k, self.score_prior_) for k in stacker.ks}
                p_hat[:, :trained] = stacker.predict(p_hat[:, :trained], means)
            if blend is not None:
                p_hat[:, :trained] = mix(p_hat[:, :trained], self.train_scores_, near, blend, self.score_prior_)
            if task_means is not None:  # each query's task named, "name (share of the neighbours)"
                code, share = task_means.guess(near)
                p_hat[:, :trained] = task_means.means[code]
                named = [f"{task_means.names[c]} ({s:.0%} of its neighbours)" for c, s in zip(code, share, strict=True)]
                task = np.asarray(named, dtype=object)
                if unfamiliar is not None:
                    task[unfamiliar] = None  # routed by the model alone
            base_k = max(self.warmup_k_ if lam > 0 else 0, self.relevance_k if self.train_relevance_ is not None else 0)
            near = near[:, :base_k] if base_k else None
        p_hat = self._calibrated(p_hat)
        if p_model is not None and len(p_model):
            p_hat[unfamiliar] = p_model
        return p_hat, features, context, near, unfamiliar, task

    def predict_embedded(self, X: np.ndarray, queries: Sequence[str], warmup_lambda: float | None = None) -> Prediction:
        """:class:`Prediction` for queries already embedded (``X``); ``queries`` price them."""
        self._check_fitted()
        with blas_threads(routing_threads(len(X))):
            p_hat, features, context, near, unfamiliar, task = self._predict_features(X, warmup_lambda)
            difficulty = self.predictor_.query_difficulty(features, context).astype(np.float64)
        return Prediction(
            llm_ids=self.llm_ids,
            p_hat=p_hat,
            cost=self.cost_model_.normalised(queries),
            difficulty=difficulty,
            cost_usd=self.cost_model_.expected_usd(queries),
            features=features,
            context=context,
            neighbours=near,
            unfamiliar=unfamiliar,
            task=task,
        )

    def predict(self, queries: Sequence[str], warmup_lambda: float | None = None) -> Prediction:
        """P-hat, cost and difficulty of every LLM for each query."""
        queries = list(queries)
        return self.predict_embedded(self.embed(queries), queries, warmup_lambda)

    # -- routing ---------------------------------------------------------------------------------
    def resolve_rule(self, rule: str | None) -> str:
        """The rule of a call: ``rule``, else the router's own; an error for one it cannot apply."""
        return check_rule(self.rule if rule is None else rule, self.rules)

    def calibrate_budget(
        self, budget: float, rule: str | None = None, allowed_llms: Sequence[str] | None = None
    ) -> BudgetCalibration:
        """RADAR's budget mode: the largest performance weight whose routing of the router's
        reference queries (training queries, :class:`~irtrouter.routing.scalarise.BudgetReference`)
        spends at most ``budget`` per query on average (expected USD when the cost model estimates
        USD, else normalised cost C). Calibrations are kept, so a repeated budget costs nothing."""
        self._check_fitted()
        rule = self.resolve_rule(rule)
        if rule not in RULES:
            raise ConfigError(f"the budget mode calibrates a scalarisation ({', '.join(RULES)}), not {rule!r}")
        reference = self.budget_reference_
        if reference is None or reference.cost.shape[1] != len(self.llm_ids):
            raise ConfigError(
                "this router has no budget reference for all its LLMs (LLMs added after training, or saved "
                "before the budget mode): retrain it, or call set_budget_reference(queries)"
            )
        mask = allowed_mask(self.llm_ids, allowed_llms)
        key = (float(budget), rule, tuple(mask.tolist()))
        if key not in self.budget_calibrations_:
            p_hat = self._predict_features(reference.embeddings(self.neighbours_.embeddings))[0]
            self.budget_calibrations_[key] = calibrate_budget(
                p_hat, reference.cost, budget, rule, spend=reference.spend, allowed=mask
            )
        return self.budget_calibrations_[key]

    def set_budget_reference(self, queries: Sequence[str]) -> None:
        """Calibrate the budget mode on ``queries`` instead of the training queries (needed after
        ``add_llm``: the training queries were priced for the trained LLMs only)."""
        queries = list(queries)
        self.budget_reference_ = BudgetReference.of_queries(self.cost_model_, queries, X=self.embed(queries))
        self.budget_calibrations_ = {}

    def _resolve_call(
        self,
        alpha: float,
        beta: float | None,
        preference: float | None,
        allowed_llms: Sequence[str] | None,
        rule: str | None,
        budget: float | None,
    ) -> tuple[TradeOff, np.ndarray, str, dict[str, Any]]:
        """What one routing call asks: its trade-off (calibrated to ``budget`` when given), the
        allowed mask, the rule, and what the decision records about them."""
        rule = self.resolve_rule(rule)
        mask = allowed_mask(self.llm_ids, allowed_llms)
        if budget is None:
            return TradeOff.of(alpha, beta, preference), mask, rule, {}
        cal = self.calibrate_budget(budget, rule, allowed_llms)
        notes = {
            "budget": cal.cap,
            "budget_unit": self.budget_reference_.unit if self.budget_reference_ else None,
            "budget_weight": round(cal.weight, 6),
            "budget_reference_spend": cal.mean_cost,
        }
        return TradeOff.of(cal.weight), mask, rule, notes

    def choose(
        self,
        prediction: Prediction,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
    ) -> np.ndarray:
        """Indices of the chosen LLMs for a :class:`Prediction` (fast trade-off sweeps)."""
        trade_off, mask, rule, _ = self._resolve_call(alpha, beta, preference, allowed_llms, rule, budget)
        return self._choose(prediction, trade_off, mask, rule, guarded=budget is None)[0]

    def route(
        self,
        query: str,
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
    ) -> RoutingDecision:
        """Route one query. See :mod:`irtrouter.routing.rule` for the rules and tie-breaks;
        ``preference`` (when given) replaces ``alpha`` / ``beta``, and ``budget`` replaces both."""
        return self.route_many([query], alpha, beta, allowed_llms, preference=preference, rule=rule, budget=budget)[0]

    def route_many(
        self,
        queries: Sequence[str],
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
    ) -> list[RoutingDecision]:
        """Route a batch of queries with one embedding call; each decision carries its explanation."""
        queries = list(queries)
        return self.route_many_embedded(
            self.embed(queries), queries, alpha, beta, allowed_llms, preference=preference, rule=rule, budget=budget
        )

    def route_many_embedded(
        self,
        X: np.ndarray,
        queries: Sequence[str],
        alpha: float = 0.8,
        beta: float | None = None,
        allowed_llms: Sequence[str] | None = None,
        *,
        preference: float | None = None,
        rule: str | None = None,
        budget: float | None = None,
        explain: bool = True,
    ) -> list[RoutingDecision]:
        """:meth:`route_many` for queries already embedded (``X``, e.g. from :meth:`embed` or a
        cache); ``queries`` price them. One numpy pass for the whole batch; ``explain=False``
        leaves ``explanation`` None (the rest of each decision is the same).

        Examples
        --------
        >>> X = router.embed(queries)  # doctest: +SKIP
        >>> [d.llm_id for d in router.route_many_embedded(X, queries, alpha=0.5, explain=False)]  # doctest: +SKIP
        """
        trade_off, mask, rule, notes = self._resolve_call(alpha, beta, preference, allowed_llms, rule, budget)
        with blas_threads(routing_threads(len(queries))):  # once here; predict_embedded's then changes nothing
            pred = self.predict_embedded(X, queries)
            chosen, stayed, guard_notes, scores, by_spread = self._choose(pred, trade_off, mask, rule, budget is None)
            explanations = explain_decisions(self, pred, chosen, trade_off, mask, rule, scores) if explain else None
        extras: list[dict[str, Any]] | dict[str, Any] = notes
        if stayed is not None and by_spread is not None:
            extras = [{**notes, **guard_notes, "stayed_on_default": s} for s in stayed.tolist()]
            explanations = _with_reason(
                explanations, stayed & ~by_spread, "stayed on the best single LLM (gain under the validated margin)"
            )
            explanations = _with_reason(
                explanations,
                by_spread,
                "stayed on the best single LLM (gain over the validated margin, under it plus "
                f"{guard_notes.get('spread_multiple', 0):g} times the gain's spread)",
            )
        if pred.task is not None:
            tasks = pred.task.tolist()
            extras = [{**e, "task": t} for e, t in zip(_per_query(extras, len(queries)), tasks, strict=True)]
            if explanations is not None:
                explanations = [
                    e if t is None else replace(e, reason=f"{e.reason}; P: the mean scores of its task, {t}")
                    for e, t in zip(explanations, tasks, strict=True)
                ]
        if pred.unfamiliar is not None:
            extras = [
                {**e, "unfamiliar": u}
                for e, u in zip(_per_query(extras, len(queries)), pred.unfamiliar.tolist(), strict=True)
            ]
            explanations = _with_reason(
                explanations, pred.unfamiliar, "unlike every training query: routed by the model alone, unguarded"
            )
        return self._decisions(queries, pred, chosen, trade_off, rule, mask, scores, explanations, extras)

    def _choose(
        self,
        pred: Prediction,
        trade_off: TradeOff,
        mask: np.ndarray,
        rule: str,
        guarded: bool,
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any], np.ndarray, np.ndarray | None]:
        """The rule's choice per query, then the guard's (``selection.Guard``; not in budget mode,
        whose calibration routes by the rule alone): ``(chosen, stayed or None, notes, scores,
        by_spread or None)``, ``scores`` the rule's per-LLM scores (computed once here, shared by
        the guard, the explanation and the decision records), ``by_spread`` the stayed queries
        whose gain beat the margin but not the spread term added to it."""
        p, c, ok = routing_inputs(pred.p_hat, pred.cost, mask)
        scores = rule_scores(p, c, trade_off, rule)
        chosen = best_candidates(scores, p, c, ok)
        if self.guard_ is None or not guarded:
            return chosen, None, {}, scores, None
        by_rule = chosen
        chosen, stayed, default, margin, by_spread = self.guard_.apply(p, c, chosen, trade_off, rule, mask, scores)
        if pred.unfamiliar is not None and pred.unfamiliar.any():  # the guard was not validated there
            chosen, stayed = np.where(pred.unfamiliar, by_rule, chosen), stayed & ~pred.unfamiliar
            by_spread = by_spread & stayed
        if default is None:
            return chosen, None, {}, scores, None
        notes: dict[str, Any] = {"default_llm": self.llm_ids[default], "margin": round(margin, 6)}
        z = self.guard_.spread(trade_off, rule)
        if z > 0:
            notes["spread_multiple"] = round(z, 6)
        return chosen, stayed, notes, scores, by_spread

    def _decisions(
        self,
        queries: Sequence[str],
        pred: Prediction,
        chosen: np.ndarray,
        trade_off: TradeOff,
        rule: str,
        mask: np.ndarray,
        scores: np.ndarray,
        explanations: Sequence[Explanation | None] | None = None,
        extras: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    ) -> list[RoutingDecision]:
        """One :class:`RoutingDecision` per query from a batch's prediction, choices and per-LLM
        scores; ``extras``: one dict for every decision (each gets a copy) or one per query.
        The arrays become Python floats in one ``tolist`` each, not per query."""
        per_query = _per_query(extras or {}, len(queries))
        return decision_records(
            queries, self.llm_ids, chosen, pred.p_hat, pred.cost, scores, pred.difficulty, pred.cost_usd,
            trade_off.alpha, trade_off.beta, tuple(mask.tolist()), rule, per_query, explanations,
        )  # fmt: skip

    # -- growing the pool ------------------------------------------------------------------------
    def add_llm(self, spec: LLMSpec, ability: np.ndarray | None = None, **cost_estimates: float) -> None:
        """Add an LLM without retraining: its ability from ``ability`` or from its profile alone.

        ``cost_estimates`` feed the cost model (``expected_output_tokens`` for ``tokens``,
        ``mean_cost_usd`` for ``observed``). The budget mode then needs
        :meth:`set_budget_reference` (the training queries were priced for the trained LLMs).
        """
        self._check_fitted()
        if spec.llm_id in self.llm_ids:
            raise ConfigError(f"LLM {spec.llm_id!r} is already in the router")
        if ability is None:
            ability = self.predictor_.profile_ability(self.embedder_.encode([spec.profile_text]))[0]
        self.cost_model_.add_llm(spec, **cost_estimates)
        self.predictor_.add_llm(spec.llm_id, ability)
        if self.calibrator_ is not None:  # nothing validated it: its P is used as predicted
            self.calibrator_ = self.calibrator_.with_identity(spec.llm_id)
        self.catalog_ = LLMCatalog([*self.catalog_.values(), spec], source=self.catalog_.source)
        self.budget_calibrations_ = {}

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the router to directory ``path`` (config.json + weights.npz; :mod:`irtrouter.routing.persistence`)."""
        return write_router_dir(path, *self._saved_state())

    def _saved_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(config, arrays)`` of the saved directory; subclasses add their own keys."""
        self._check_fitted()
        pred_config, pred_arrays = self.predictor_.state()
        cost_config, cost_arrays = self.cost_model_.state()
        config: dict[str, Any] = {
            "router_kind": self.router_kind,
            "router": self.get_params(),
            "embedder": {
                "spec": self.embedder_spec_,
                "name": self.embedder_.name,
                "dim": self.embedder_.dim,
                "max_chars": text_cap(self.embedder_),  # characters embedded of a longer query
            },
            "llms": self.catalog_.to_records(),
            "predictor": pred_config,
            "cost_model": cost_config,
            "relevance": self.relevance_info_,
            "training": self.training_,
            "warmup": {"lambda": self.warmup_lambda_, "k": self.warmup_k_},
        }
        arrays = {f"predictor.{k}": v for k, v in pred_arrays.items()}
        arrays |= {f"cost.{k}": v for k, v in cost_arrays.items()}
        arrays["train_embeddings"] = self.neighbours_.embeddings
        config["neighbour_index"], index_arrays = self.neighbours_.state()
        arrays |= {f"neighbours.{k}": v for k, v in index_arrays.items()}
        if self.train_relevance_ is not None:
            arrays["train_relevance"] = self.train_relevance_
        arrays["train_difficulty_sorted"] = self.train_difficulty_sorted_
        if self.train_tasks_ is not None:
            arrays["train_tasks"] = np.asarray(self.train_tasks_, dtype=np.str_)  # unicode, no pickle
        if self.budget_reference_ is not None:
            config["budget_reference"], budget_arrays = self.budget_reference_.state()
            arrays |= {f"budget.{k}": v for k, v in budget_arrays.items()}
        if self.knn_blend_ is not None:
            config["knn_blend"] = self._blend_record()
        if self.stacker_ is not None:
            config["stacking"], stack_arrays = self.stacker_.state()
            arrays |= {f"stacking.{k}": v for k, v in stack_arrays.items()}
        # Rebuilt on loading from the training tasks and scores saved for the neighbours.
        config["task_routing"] = self.task_means_ is not None
        # The kNN stages read them, and the ability table's standard errors.
        arrays["train_scores"], arrays["score_prior"] = self.train_scores_, self.score_prior_
        for name, part in (
            ("calibration", self.calibrator_),
            ("guard", self.guard_),
            ("familiarity", self.familiarity_),
        ):
            if part is not None:
                config[name], part_arrays = part.state()
                arrays |= {f"{name}.{k}": v for k, v in part_arrays.items()}
        return config, arrays

    @classmethod
    def from_saved(
        cls, config: dict[str, Any], arrays: dict[str, np.ndarray], embedder: Embedder | None = None, source: Any = ""
    ) -> IRTRouter:
        """The router a saved directory describes (:func:`irtrouter.routing.saved.load_router` reads it)."""
        embedder = resolve_embedder(config, embedder, source)
        router: IRTRouter = cls.from_params(config["router"])
        try:
            router._restore(config, arrays, embedder, source)
        except KeyError as exc:
            raise RouterFormatError(f"{source}: missing {exc} in the saved router") from None
        return router

    def _restore(self, config: dict[str, Any], arrays: dict[str, np.ndarray], embedder: Embedder, source: Any) -> None:
        kind = config["predictor"]["kind"]
        if kind not in PREDICTORS:
            raise RouterFormatError(f"unknown predictor {kind!r} in the saved router")
        self.predictor_ = PREDICTORS[kind].from_state(config["predictor"], prefixed(arrays, "predictor."))
        self.cost_model_ = cost_model_from_state(config["cost_model"], prefixed(arrays, "cost."))
        self.neighbours_ = index_from_state(
            arrays["train_embeddings"], config.get("neighbour_index"), prefixed(arrays, "neighbours.")
        )
        self.train_relevance_ = arrays.get("train_relevance")
        # Routers saved before explanations existed lack these two arrays: the difficulties are
        # recomputed exactly from the stored training embeddings; the tasks are simply unknown.
        stored = arrays.get("train_difficulty_sorted")
        self.train_difficulty_sorted_ = self._training_difficulty_sorted() if stored is None else stored
        tasks = arrays.get("train_tasks")
        self.train_tasks_ = None if tasks is None else tuple(str(t) for t in tasks)
        budget = config.get("budget_reference")
        self.budget_reference_ = (
            None if budget is None else BudgetReference.from_state(budget, prefixed(arrays, "budget."))
        )
        self.budget_calibrations_ = {}
        calibration, guard = config.get("calibration"), config.get("guard")
        self.calibrator_ = (
            None if calibration is None else Calibrator.from_state(calibration, prefixed(arrays, "calibration."))
        )
        self.guard_ = None if guard is None else Guard.from_state(guard, prefixed(arrays, "guard."))
        gate = config.get("familiarity")  # routers saved before the novelty gate have none
        self.familiarity_ = None if gate is None else Familiarity.from_state(gate, prefixed(arrays, "familiarity."))
        self.predictor_kind_ = kind
        blend = config.get("knn_blend")
        self.knn_blend_ = None if blend is None else (int(blend["k"]), float(blend["irt_weight"]))
        stacking = config.get("stacking")
        self.stacker_ = None if stacking is None else Stacker.from_state(stacking, prefixed(arrays, "stacking."))
        self.train_scores_ = arrays.get("train_scores")  # type: ignore[assignment]
        self.score_prior_ = arrays.get("score_prior")
        self.task_means_ = None
        if config.get("task_routing"):
            assert self.train_tasks_ is not None and self.train_scores_ is not None and self.score_prior_ is not None
            self.task_means_ = TaskMeans.fit(self.train_tasks_, self.train_scores_, self.score_prior_)
        self.relevance_info_ = config.get("relevance")
        self.catalog_ = LLMCatalog.from_records(config["llms"], source=str(Path(source) / CONFIG_FILE))
        self.embedder_ = embedder
        self.embedder_spec_ = config["embedder"].get("spec")
        self.training_ = config.get("training", {})
        warmup = config.get("warmup")  # older routers: the parameters
        self.warmup_lambda_ = self.warmup_lambda if warmup is None else float(warmup["lambda"])
        self.warmup_k_ = self.warmup_k if warmup is None else int(warmup["k"])


def _configuration_rows(values: dict[tuple[str, bool], np.ndarray]) -> list[dict[str, Any]]:
    """The selection record's rows of judged stage configurations: each one's out-of-fold value
    and the standard error of its paired gap to the best."""
    errors = paired_errors(values)
    return [
        {"calibration": c, "guard": g, "cv_value": round(float(v.mean()), 6), "se_vs_best": round(errors[(c, g)], 6)}
        for (c, g), v in values.items()
    ]


def candidate_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"mirt:offset_prior=1.0"`` -> ``("mirt", {"offset_prior": 1.0})``: a candidate predictor and
    its own parameters, written as the evaluation registry's router specs are."""
    return parse_spec(spec, "candidate")


def _candidate_class(spec: str) -> type[IRTPredictor]:
    return predictor_class(candidate_spec(spec)[0])


class _SearchOnce:
    """An index that answers a repeated search (the same array, the same k) from the first: every
    candidate of ``_validate`` asks for the same neighbours of the validation queries."""

    def __init__(self, index: NeighbourIndex) -> None:
        self.index = index
        self.embeddings = index.embeddings
        self._last: tuple[np.ndarray, int, np.ndarray] | None = None

    def search(self, X: np.ndarray, k: int) -> np.ndarray:
        if self._last is None or self._last[0] is not X or self._last[1] != k:
            self._last = (X, k, self.index.search(X, k))
        return self._last[2]


class _StageClock:
    """Wall seconds per stage of a fit, for the training summary (``lap`` ends the stage named)."""

    def __init__(self, started: float) -> None:
        self.last = started
        self.seconds: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.last, 3)
        self.last = now


def _per_query(extras: dict[str, Any] | Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """One dict per query: ``extras`` itself when it is one per query, else ``n`` times the one."""
    return [extras] * n if isinstance(extras, dict) else list(extras)


def _with_reason(explanations: list[Explanation] | None, where: np.ndarray, reason: str) -> list[Explanation] | None:
    """Explanations with ``reason`` appended where ``where`` is set."""
    if explanations is None:
        return None
    return [
        replace(e, reason=f"{e.reason}; {reason}") if w else e
        for e, w in zip(explanations, where.tolist(), strict=True)
    ]


def _weights(results: ResultsMatrix) -> dict[str, np.ndarray]:
    """The loss weights of an aggregated log's cells (its ``counts``), as predictor-fit keywords."""
    return {} if results.counts is None else {"weights": results.counts}
