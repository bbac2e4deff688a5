"""Drift: the calibration statistics, and ``irtrouter drift`` on a real SQLite log."""

import json

import numpy as np
from click.testing import CliRunner

from irtrouter.cli import cli
from irtrouter.online.drift import CusumState, brier, cusum, cusum_update, drift_stats, expected_brier
from tests.online.conftest import LoggedRequest, write_log


def test_expected_brier_is_the_mean_brier_of_calibrated_outcomes():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(len(p)) < p).astype(float)
    assert abs(brier(p, y) - expected_brier(p)) < 0.01


def test_cusum_rarely_alarms_when_calibrated_and_always_after_a_swap():
    false_alarms, detected = 0, 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.2, 0.9, 300)
        calibrated = (rng.random(300) < p).astype(float)
        false_alarms += cusum(p, calibrated).alarm_at is not None
        swapped = (rng.random(300) < 1 / (1 + np.exp(-(np.log(p / (1 - p)) - 1.5)))).astype(float)
        state = cusum(p, swapped)
        detected += state.alarm_at is not None and state.alarm_side == "down"
    assert false_alarms <= 3 and detected == 30


def test_the_one_row_step_equals_the_sequence():
    p, y = np.array([0.9, 0.8, 0.3, 0.7]), np.array([0.0, 1.0, 1.0, 0.5])
    state = CusumState()
    for pi, yi in zip(p, y, strict=True):
        state = cusum_update(state, pi, yi)
    assert state == cusum(p, y)


def test_windowed_levels_use_the_last_rows():
    p = np.r_[np.full(50, 0.9), np.full(50, 0.5)]
    y = np.r_[np.zeros(50), np.ones(50)]
    s = drift_stats("m", p, y, window=50)
    assert s.window == 50 and s.brier == 0.25 and s.mean_p == 0.5 and s.n == 100


def test_drift_flags_only_the_llm_whose_scores_changed(tmp_path):
    rng = np.random.default_rng(1)
    requests = []
    for i in range(240):
        llm = ("big", "math-small")[i % 2]
        p = float(rng.uniform(0.6, 0.9))
        truth = p if llm == "big" else p - 0.5  # math-small was swapped for a worse model
        requests.append(LoggedRequest(f"q{i}", llm, llm, [float(rng.random() < truth)], p_hat={llm: p}))
    url = write_log(tmp_path / "log.sqlite", requests)
    res = CliRunner().invoke(cli, ["drift", "--db", url, "--json"])
    assert res.exit_code == 0, res.output
    flags = {s["llm_id"]: s["drifted"] for s in json.loads(res.stdout)["llms"]}
    assert flags == {"big": False, "math-small": True}
    res = CliRunner().invoke(cli, ["drift", "--db", url])
    assert "math-small" in res.stdout and "DRIFTED (down" in res.stdout and "re-quiz" in res.stdout
