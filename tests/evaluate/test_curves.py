"""Curve metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from irtrouter.errors import DataError
from irtrouter.evaluate.curves import aiq, apgr, cpt, hypervolume, pareto_front, upper_hull
from irtrouter.evaluate.report import curve_table


def test_pareto_front_drops_dominated_points():
    costs = [0.1, 0.2, 0.3, 0.25, 0.4]
    perfs = [0.5, 0.7, 0.6, 0.7, 0.9]
    # (0.3, 0.6) is beaten by (0.2, 0.7); (0.25, 0.7) ties (0.2, 0.7) on performance at higher cost.
    assert pareto_front(costs, perfs).tolist() == [0, 1, 4]


def test_hypervolume_of_known_points():
    # Staircase: [0.2, 0.6) at 0.5, [0.6, 1] at 0.8 -> 0.4*0.5 + 0.4*0.8 = 0.52
    assert hypervolume([0.2, 0.6], [0.5, 0.8], cost_ref=1.0) == pytest.approx(0.52)
    # Scaling costs and the reference together changes nothing; a dominated point adds nothing.
    assert hypervolume([2, 6, 7], [0.5, 0.8, 0.6], cost_ref=10) == pytest.approx(0.52)
    # Points beyond the reference cost dominate nothing.
    assert hypervolume([2.0], [0.9], cost_ref=1.0) == 0.0
    assert hypervolume([0.0], [1.0], cost_ref=1.0) == pytest.approx(1.0)


def test_cpt_reads_the_cheapest_point_reaching_the_target():
    costs, perfs = [1.0, 2.0, 5.0], [0.6, 0.9, 0.95]
    assert cpt(costs, perfs, 0.9, best_perf=1.0, best_cost=10.0) == pytest.approx(0.2)
    assert cpt(costs, perfs, 0.5, best_perf=1.0, best_cost=10.0) == pytest.approx(0.1)
    assert math.isinf(cpt(costs, perfs, 0.99, best_perf=1.0, best_cost=10.0))


def test_upper_hull_is_concave_and_non_decreasing():
    hull = upper_hull([0, 1, 2, 3, 4], [0.2, 0.3, 0.9, 0.95, 0.7])
    # (1, 0.3) lies below the chord from (0, 0.2) to (2, 0.9); (4, 0.7) is past the peak.
    np.testing.assert_allclose(hull, [[0, 0.2], [2, 0.9], [3, 0.95]])


def test_aiq_of_a_known_curve():
    # Hull (1, 0.5) -> (3, 0.9), flat to 4: area 2*0.7 + 1*0.9 = 2.3, / 4 = 0.575
    assert aiq([1.0, 3.0, 2.0], [0.5, 0.9, 0.6], max_cost=4.0) == pytest.approx(0.575)
    # A single operating point: flat from its cost to max_cost.
    assert aiq([2.0], [0.8], max_cost=4.0) == pytest.approx(0.4)
    with pytest.raises(DataError):
        aiq([5.0], [0.8], max_cost=4.0)


def test_apgr_of_known_points():
    # PGR at the sampled shares: 0 -> 0, 0.5 -> 0.5, 1 -> 1: the diagonal, APGR 0.5
    assert apgr([0.5], [0.8], weak_perf=0.6, strong_perf=1.0) == pytest.approx(0.5)
    # Recovering the whole gap with a quarter of the calls: 0.25*0.5 + 0.75*1 = 0.875
    assert apgr([0.25], [1.0], weak_perf=0.6, strong_perf=1.0) == pytest.approx(0.875)
    with pytest.raises(DataError, match="gap is zero"):
        apgr([0.5], [0.8], weak_perf=0.7, strong_perf=0.7)


def test_the_curve_table_notes_each_apgr_reason_once_and_never_a_missing_one():
    """Rows read back from a frame carry ``apgr_na`` on every row, None where APGR was computed."""

    def row(router, **apgr):
        return {"dataset": "d", "split": "ID", "router": router, "aiq": 0.5, "hypervolume": 0.4, **apgr}

    rows = [row("mirt", apgr_na="a two-LLM curve metric"), row("bin", apgr=0.3, apgr_na=None)]
    rows.append(row("knn", apgr_na="a two-LLM curve metric"))
    text = curve_table(rows)
    assert text.count("APGR n/a: a two-LLM curve metric.") == 1 and "None" not in text
