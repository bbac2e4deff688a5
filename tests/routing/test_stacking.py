"""The stacked ensemble (routing.stacking): per-LLM logistic regression on the logits of the IRT
model's P and the kNN means, shrunk towards a pooled fit and the pooled fit towards the IRT model."""

import numpy as np

from irtrouter.irt.calibration import log_loss
from irtrouter.routing.stacking import STACK_KS, Stacker, fit_stacker


def world(n, seed, irt_noise, knn_noise, n_llms=3):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.95, (n, n_llms))
    Y = (rng.random(truth.shape) < truth).astype(float)
    p_irt = np.clip(truth + rng.normal(0, irt_noise, truth.shape), 0.01, 0.99)
    means = {k: np.clip(truth + rng.normal(0, knn_noise, truth.shape), 0, 1) for k in STACK_KS}
    return p_irt, means, Y


def test_the_stack_beats_both_inputs_on_held_out_queries():
    """Fitted on one draw, scored on another of the same world: where the kNN means carry signal
    the IRT model lacks, the stack's log-loss is below both inputs'."""
    fit = world(3000, 0, irt_noise=0.3, knn_noise=0.15)
    p_irt, means, Y = world(3000, 1, irt_noise=0.3, knn_noise=0.15)
    stack = fit_stacker(*fit)
    stacked = log_loss(stack.predict(p_irt, means), Y)
    assert stacked < log_loss(p_irt, Y)
    assert stacked < min(log_loss(np.clip(m, 0.01, 0.99), Y) for m in means.values())


def test_a_true_irt_model_keeps_its_weight_and_random_neighbours_get_little():
    rng = np.random.default_rng(2)
    truth = rng.uniform(0.05, 0.95, (4000, 2))
    Y = (rng.random(truth.shape) < truth).astype(float)
    means = {k: rng.random(truth.shape) for k in STACK_KS}
    stack = fit_stacker(truth, means, Y)
    irt, knn = stack.coef[:, 1], stack.coef[:, 2:]
    assert (irt > 0.8).all() and (irt < 1.2).all(), stack.coef
    assert (np.abs(knn) < 0.1).all(), stack.coef


def test_an_llm_with_no_validation_scores_takes_the_pooled_weights():
    p_irt, means, Y = world(1500, 3, irt_noise=0.2, knn_noise=0.2)
    Y[:, 2] = np.nan  # never observed on validation
    stack = fit_stacker(p_irt, means, Y)
    seen = fit_stacker(p_irt[:, :2], {k: v[:, :2] for k, v in means.items()}, Y[:, :2])
    assert np.isfinite(stack.coef).all()
    np.testing.assert_allclose(stack.coef[:2], seen.coef, rtol=1e-6)
    # It is not left at the IRT model alone: it takes what the observed LLMs share.
    assert not np.allclose(stack.coef[2], [0.0, 1.0, 0.0, 0.0, 0.0], atol=0.05), stack.coef[2]


def test_sizes_the_training_set_lacks_are_left_out_and_the_state_round_trips():
    p_irt, means, Y = world(500, 4, irt_noise=0.2, knn_noise=0.2)
    small = {k: v for k, v in means.items() if k <= 50}  # fewer than 200 training queries
    stack = fit_stacker(p_irt, small, Y)
    assert stack.ks == (10, 50) and stack.coef.shape == (3, 4) and stack.max_k == 50
    config, arrays = stack.state()
    again = Stacker.from_state(config, arrays)
    np.testing.assert_array_equal(again.predict(p_irt, small), stack.predict(p_irt, small))
    out = stack.predict(p_irt, small)
    assert ((out >= 1e-3) & (out <= 1 - 1e-3)).all()
    assert set(stack.report(("a", "b", "c"))["a"]) == {"intercept", "irt", "knn10", "knn50"}
