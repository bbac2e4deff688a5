"""Per-LLM calibration on data drawn from known probabilities that the model gets wrong in a known way."""

import json

import numpy as np
import pytest

from irtrouter.errors import ConfigError, DataError
from irtrouter.irt.calibration import Calibrator, LLMCalibration, fit_calibrator, log_loss, reliability

GRID = np.linspace(0.0005, 0.9995, 4001)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logit(p):
    return np.log(p) - np.log1p(-p)


def miscalibrated(n=4000, seed=0):
    """Predictions p and the true probabilities they misstate: LLM 0 is over-confident (true p^3),
    LLM 1's logits are shifted by +1.5 (true sigmoid(logit p - 1.5)), LLM 2 is too shy (true
    logit = 2.5 * logit p)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.03, 0.97, (n, 3))
    true = np.stack([p[:, 0] ** 3, sigmoid(logit(p[:, 1]) - 1.5), sigmoid(2.5 * logit(p[:, 2]))], axis=1)
    y = (rng.random(true.shape) < true).astype(np.float64)
    return p, y, true


@pytest.mark.parametrize("methods", [("platt",), ("isotonic",), ("identity", "platt", "isotonic")])
def test_calibration_lowers_held_out_log_loss_and_ece(methods):
    p, y, _ = miscalibrated(seed=1)
    fit, held = slice(0, 2000), slice(2000, None)
    cal = fit_calibrator(p[fit], y[fit], methods=methods)
    q = cal.transform(p[held])
    for j in range(3):
        raw, calibrated = reliability(p[held, j], y[held, j]), reliability(q[:, j], y[held, j])
        # Each misstatement costs the raw P at least 0.05 nats and 0.1 ECE here; calibration
        # recovers most of it on queries it never saw.
        assert calibrated["log_loss"] < raw["log_loss"] - 0.03, (j, raw, calibrated)
        assert calibrated["ece"] < raw["ece"] / 2, (j, raw, calibrated)
        assert calibrated["brier"] < raw["brier"], (j, raw, calibrated)
    if "identity" in methods:  # auto never keeps the identity for a clearly miscalibrated LLM
        assert all(m.method != "identity" for m in cal.maps)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_every_map_is_monotone_non_decreasing_in_p(method):
    p, y, _ = miscalibrated(n=1500, seed=2)
    cal = fit_calibrator(p, y, methods=(method,))
    assert [m.method for m in cal.maps] == [method] * 3
    out = cal.transform(np.repeat(GRID[:, None], 3, axis=1))
    assert (np.diff(out, axis=0) >= 0).all()
    assert ((out >= 1e-3) & (out <= 1 - 1e-3)).all()  # no calibrated P is certain
    # Not constant: the maps carry the ordering (an over-confident LLM is still informative).
    assert (out[-1] - out[0] > 0.5).all()


def test_platt_recovers_a_known_logit_shift():
    rng = np.random.default_rng(3)
    p = rng.uniform(0.03, 0.97, (6000, 1))
    y = (rng.random(p.shape) < sigmoid(logit(p) - 1.5)).astype(float)
    (m,) = fit_calibrator(p, y, methods=("platt",)).maps
    a, b = m.platt
    # The weak ridge towards the identity shrinks b a little (about -1.35 here), never past -1.1.
    assert abs(a - 1.0) < 0.2 and -1.75 < b < -1.1, (a, b)


def test_well_calibrated_input_is_left_essentially_unchanged():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.03, 0.97, (4000, 3))
    y = (rng.random(p.shape) < p).astype(float)
    cal = fit_calibrator(p[:2000], y[:2000])
    held = p[2000:], y[2000:]
    for j, m in enumerate(cal.maps):
        change = log_loss(cal.transform(held[0])[:, j], held[1][:, j]) - log_loss(held[0][:, j], held[1][:, j])
        assert m.method == "identity" or abs(change) < 0.005, (m, change)
        # The identity's cross-fitted loss is within noise of the best method's.
        report = cal.report[f"llm-{j}"]
        assert report["identity"] - min(report.values()) < 0.005, report


def test_sparse_or_one_outcome_llms_get_the_identity():
    p, y, _ = miscalibrated(n=400, seed=5)
    y[19:, 0] = np.nan  # 19 observed cells: too few
    y[:, 1] = 1.0  # one outcome only
    cal = fit_calibrator(p, y, llm_ids=["sparse", "constant", "normal"], methods=("platt", "isotonic"))
    assert [m.method for m in cal.maps] == ["identity", "identity", cal.maps[2].method]
    assert cal.maps[2].method != "identity"
    assert cal.report["sparse"] == {} and cal.report["constant"] == {}
    np.testing.assert_array_equal(cal.transform(p)[:, :2], p[:, :2])
    y[:20, 0] = np.arange(20) % 2  # 20 observed cells with both outcomes: calibrated
    assert fit_calibrator(p, y, methods=("platt",)).maps[0].method == "platt"


def test_nan_cells_are_ignored():
    p, y, _ = miscalibrated(n=1200, seed=6)
    rng = np.random.default_rng(7)
    hole = rng.random(y.shape) < 0.3
    y[hole] = np.nan
    p_garbage = np.where(hole, np.nan, p)  # what the model says of an unobserved cell does not matter
    ids = ["a", "b", "c"]
    cal = fit_calibrator(p_garbage, y, llm_ids=ids)
    for j, llm in enumerate(ids):
        seen = ~hole[:, j]
        # The same LLM fitted on its observed cells alone gets the same map (halves are seeded by name).
        alone = fit_calibrator(p[seen, j : j + 1], y[seen, j : j + 1], llm_ids=[llm])
        np.testing.assert_array_equal(cal.transform(p)[:, j], alone.transform(p[:, j : j + 1])[:, 0])
        assert cal.report[llm] == alone.report[llm]
    assert np.isfinite(cal.transform(p)).all()
    assert log_loss(p, y) == pytest.approx(log_loss(p[~hole], y[~hole]), rel=1e-12)
    assert reliability(p, y)["brier"] == pytest.approx(np.mean((p[~hole] - y[~hole]) ** 2), rel=1e-12)


@pytest.mark.parametrize("methods", [("platt",), ("isotonic",), ("identity", "platt", "isotonic")])
def test_state_round_trips_exactly(methods):
    p, y, _ = miscalibrated(n=800, seed=8)
    cal = fit_calibrator(p, y, llm_ids=["x", "y", "z"], methods=methods)
    config, arrays = cal.state()
    config = json.loads(json.dumps(config))  # as saved: plain JSON plus arrays
    back = Calibrator.from_state(config, {k: np.array(v) for k, v in arrays.items()})
    assert back.llm_ids == cal.llm_ids and back.report == cal.report
    assert [m.method for m in back.maps] == [m.method for m in cal.maps]
    np.testing.assert_array_equal(back.transform(p), cal.transform(p))
    grid = np.repeat(GRID[:, None], 3, axis=1)
    np.testing.assert_array_equal(back.transform(grid), cal.transform(grid))


def test_an_added_llm_is_passed_through_unchanged():
    p, y, _ = miscalibrated(n=600, seed=9)
    cal = fit_calibrator(p, y).with_identity("newcomer")
    wider = np.column_stack([p, p[:, 0]])
    out = cal.transform(wider)
    np.testing.assert_array_equal(out[:, 3], wider[:, 3])
    np.testing.assert_array_equal(out[:, :3], fit_calibrator(p, y).transform(p))


def test_bad_inputs_are_refused():
    p, y, _ = miscalibrated(n=100, seed=10)
    with pytest.raises(ConfigError, match="unknown calibration 'sigmoid'"):
        fit_calibrator(p, y, methods=("platt", "sigmoid"))
    with pytest.raises(DataError):
        fit_calibrator(p, y[:, :2])
    with pytest.raises(DataError):
        fit_calibrator(p, y).transform(p[:, :2])


def test_the_vectorised_transform_equals_each_llm_map_on_its_own_column():
    # transform() groups the LLMs by method (one Platt pass, one interp per isotonic LLM); the
    # reference applies each LLM's own map to its column, as the code before did.
    p, y, _ = miscalibrated(seed=4)
    platt = fit_calibrator(p, y, methods=("platt",)).maps
    isotonic = fit_calibrator(p, y, methods=("isotonic",)).maps
    single_knot = LLMCalibration("isotonic", knots_x=np.array([0.4]), knots_y=np.array([0.7]))
    maps = (isotonic[0], platt[1], LLMCalibration("identity"), single_knot, platt[2], isotonic[2])
    cal = Calibrator(maps, {}, tuple(f"m{j}" for j in range(len(maps))))
    rng = np.random.default_rng(5)
    q = rng.uniform(0.0, 1.0, (300, len(maps)))
    q[0], q[1], q[2] = 0.0, 1.0, isotonic[0].knots_x[3]  # the ends, and a knot exactly
    reference = np.stack([m(q[:, j]) for j, m in enumerate(maps)], axis=1)
    np.testing.assert_allclose(cal.transform(q), reference, rtol=0, atol=1e-12)
    assert cal.transform(q[:1]).shape == (1, len(maps))  # one query, as routing calls it
    config, arrays = cal.state()
    loaded = Calibrator.from_state(json.loads(json.dumps(config)), arrays)
    np.testing.assert_allclose(loaded.transform(q), reference, rtol=0, atol=1e-12)
    grown = cal.with_identity("new")
    extra = np.column_stack([q, q[:, 0]])
    np.testing.assert_allclose(grown.transform(extra), np.column_stack([reference, q[:, 0]]), rtol=0, atol=1e-12)
