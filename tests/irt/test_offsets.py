"""MIRT's and NIRT's free per-LLM ability offsets, on data drawn from a known MIRT model with twin
profiles."""

import numpy as np
import pytest

from irtrouter.errors import ConfigError
from irtrouter.irt.mirt import MIRTPredictor
from irtrouter.irt.nirt import NIRTPredictor

N_DIMS = 3
SHIFT = 1.5  # length of each twin's true ability shift, along the mean discrimination
UP, DOWN = 5, 6  # LLM 5 reads like LLM 0 but is stronger; LLM 6 reads like LLM 1 but is weaker


def twin_data(n_queries=1500, d=32, seed=2):
    """Queries and 0/1 scores from a known MIRT model (eq. 4-5) over 7 LLMs whose last two have the
    same profile embeddings as LLMs 0 and 1 but true abilities shifted up and down."""
    rng = np.random.default_rng(seed)

    def unit(x):
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    Xq, Xm = unit(rng.normal(size=(n_queries, d))), unit(rng.normal(size=(7, d)))
    Xm[UP], Xm[DOWN] = Xm[0], Xm[1]
    W_a, w_b, W_theta = rng.normal(0, 1, (N_DIMS, d)), rng.normal(0, 3, d), rng.normal(0, 3, (N_DIMS, d))
    a = Xq @ W_a.T + 1.0  # mean discrimination about (1, 1, 1)
    theta = Xm @ W_theta.T
    direction = np.ones(N_DIMS) / np.sqrt(N_DIMS)
    theta[UP], theta[DOWN] = theta[0] + SHIFT * direction, theta[1] - SHIFT * direction
    P = 1 / (1 + np.exp(-(a @ theta.T - (Xq @ w_b)[:, None])))
    Y = (rng.random(P.shape) < P).astype(np.float32)
    return Xq, Xm, Y, P


@pytest.fixture(scope="module")
def data():
    # Seed 2: true twin gaps of 0.27 and 0.14 in mean P; fitted gaps over random_state 0-2 were
    # 0.24-0.26 and 0.11, so the 0.5x / 1.5x bounds below hold with room.
    return twin_data()


def fit(data, offset_prior):
    Xq, Xm, Y, _ = data
    model = MIRTPredictor(n_dims=N_DIMS, offset_prior=offset_prior, learning_rate=0.01, max_epochs=200, random_state=0)
    return model.fit(Xq, Xm, Y)


@pytest.fixture(scope="module")
def with_offsets(data):
    return fit(data, 1.0)


@pytest.fixture(scope="module")
def without_offsets(data):
    return fit(data, None)


def test_true_twins_differ_by_a_clear_margin(data):
    """The premise: each twin's mean P differs from its profile-mate's by more than 0.1."""
    _, _, _, P = data
    assert P[:, UP].mean() - P[:, 0].mean() > 0.1
    assert P[:, 1].mean() - P[:, DOWN].mean() > 0.1


def test_without_offsets_twin_profiles_predict_alike(without_offsets, data):
    Xq, Xm, _, _ = data
    model = without_offsets
    assert "U" not in model.params_
    # Identical profiles give identical abilities: equal up to float32 rounding of the batched
    # matrix product (BLAS need not give bit-equal rows), far below the twins' true gap.
    for twin, mate in ((UP, 0), (DOWN, 1)):
        np.testing.assert_allclose(model.abilities_[twin], model.abilities_[mate], rtol=0, atol=1e-5)
        p = model.predict_proba(Xq)
        np.testing.assert_allclose(p[:, twin], p[:, mate], rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.profile_ability(Xm), model.abilities_, rtol=0, atol=1e-5)


def test_free_offsets_separate_twins_by_their_true_abilities(with_offsets, without_offsets, data):
    Xq, _, _, P = data
    p = with_offsets.predict_proba(Xq)
    for high, low in ((UP, 0), (1, DOWN)):
        true_gap = P[:, high].mean() - P[:, low].mean()
        fitted_gap = p[:, high].mean() - p[:, low].mean()
        assert fitted_gap > 0.5 * true_gap, (high, low, true_gap, fitted_gap)
        assert fitted_gap < 1.5 * true_gap, (high, low, true_gap, fitted_gap)
    # The twins' predictions are closer to the truth than the offset-free model's can be.
    twins = [0, 1, UP, DOWN]
    error_free = np.abs(without_offsets.predict_proba(Xq)[:, twins] - P[:, twins]).mean()
    assert np.abs(p[:, twins] - P[:, twins]).mean() < 0.8 * error_free


def test_a_strong_prior_pins_the_offsets_to_zero(data):
    Xq, _, _, P = data
    p = fit(data, 1e7).predict_proba(Xq)
    for twin, mate in ((UP, 0), (DOWN, 1)):
        assert abs(p[:, twin].mean() - p[:, mate].mean()) < 0.02
    assert abs(P[:, UP].mean() - P[:, 0].mean()) > 0.1  # while the truth differs


def test_profile_ability_has_no_offset(with_offsets, data):
    """A newcomer from a trained LLM's profile gets the profile map's ability, not that LLM's own."""
    _, Xm, _, _ = data
    model = with_offsets
    U = model.params_["U"]
    assert U.shape == (7, N_DIMS)
    newcomer = model.profile_ability(Xm[UP])[0]
    np.testing.assert_allclose(newcomer, model.abilities_[UP] - U[UP], rtol=0, atol=1e-5)
    np.testing.assert_allclose(newcomer, model.profile_ability(Xm[0])[0], rtol=0, atol=1e-6)
    # Each twin's own ability sits clearly away from the shared profile's: a real offset.
    for j in (0, UP):
        assert np.linalg.norm(model.abilities_[j] - newcomer) > 0.1, j
    np.testing.assert_allclose(model.profile_ability(Xm), model.abilities_ - U, rtol=0, atol=1e-5)


def test_offsets_survive_state_round_trip(with_offsets, data):
    Xq, _, _, _ = data
    config, arrays = with_offsets.state()
    back = MIRTPredictor.from_state(config, arrays)
    assert back.offset_prior == 1.0
    np.testing.assert_array_equal(back.predict_proba(Xq), with_offsets.predict_proba(Xq))


@pytest.mark.parametrize("prior", [0.0, -1.0, float("nan")])
def test_offset_prior_must_be_positive(prior, data):
    Xq, Xm, Y, _ = data
    with pytest.raises(ConfigError, match="offset_prior must be > 0"):
        MIRTPredictor(n_dims=N_DIMS, offset_prior=prior, max_epochs=1).fit(Xq[:50], Xm, Y[:50])


# -- NIRT: the same offsets inside its sigmoid -----------------------------------------------------
@pytest.fixture(scope="module")
def nirt_pair(data):
    """NIRT without and with offsets, on uniform relevance (every ability relevant to every query)."""
    Xq, Xm, Y, _ = data
    context = np.ones((len(Xq), 25), np.float32)
    fitted = [
        NIRTPredictor(offset_prior=prior, learning_rate=0.01, max_epochs=200, random_state=0).fit(
            Xq, Xm, Y, context=context
        )
        for prior in (None, 1.0)
    ]
    return (*fitted, context)


def test_nirt_offsets_separate_twins_that_its_profiles_cannot(nirt_pair, data):
    # Fitted gaps over random_state 0-2: 0.29 and 0.12-0.14 against the true 0.27 and 0.14.
    Xq, Xm, _, P = data
    plain, offset, context = nirt_pair
    assert "U" not in plain.params_ and offset.params_["U"].shape == (7, 25)
    p_plain, p = plain.predict_proba(Xq, context), offset.predict_proba(Xq, context)
    for high, low in ((UP, 0), (1, DOWN)):
        np.testing.assert_allclose(p_plain[:, high], p_plain[:, low], rtol=0, atol=1e-5)
        true_gap = P[:, high].mean() - P[:, low].mean()
        fitted_gap = p[:, high].mean() - p[:, low].mean()
        assert 0.5 * true_gap < fitted_gap < 1.5 * true_gap, (high, low, true_gap, fitted_gap)
    # A newcomer's ability is the profile map's (in (0, 1), no offset), and the state round-trips.
    newcomer = offset.profile_ability(Xm[UP])[0]
    np.testing.assert_allclose(newcomer, offset.profile_ability(Xm[0])[0], rtol=0, atol=1e-6)
    assert ((newcomer > 0) & (newcomer < 1)).all()
    assert np.abs(offset.abilities_[UP] - newcomer).max() > 0.05
    back = NIRTPredictor.from_state(*offset.state())
    np.testing.assert_array_equal(back.predict_proba(Xq, context), p)
