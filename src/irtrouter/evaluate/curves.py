"""Cost-quality curve metrics: hypervolume and CPT (RADAR), AIQ (RouterBench), APGR (RouteLLM).

A router swept over its trade-off weight (alpha, w, a threshold...) yields points
``(cost, performance)``. Each metric summarises such a curve:

``hypervolume(costs, perfs, cost_ref)``
    Area of the cost-performance square ``[0, 1] x [0, 1]`` dominated by the points, cost
    divided by ``cost_ref`` (RADAR: the cost of the most expensive configuration), reference point
    (cost 1, performance 0). Higher is better; 1 would be perfect performance at zero cost.
``cpt(costs, perfs, x, best_perf, best_cost)``
    Cost to reach ``x`` (e.g. 0.9) of the best single configuration's performance, as a share of
    that configuration's cost ("90% of o4-mini-high's performance at 1.31% of its cost").
``aiq(costs, perfs, max_cost)``
    RouterBench's Average Improvement in Quality: the area under the router's non-decreasing
    upper convex hull, extended flat to ``max_cost`` (common to the routers compared), divided by
    ``max_cost``. The hull is what mixing two operating points at random can reach.
``apgr(strong_shares, perfs, weak_perf, strong_perf)``
    RouteLLM's Average Performance Gap Recovered for binary routers: the mean over the share of
    calls to the strong model (0 to 1) of ``(perf - weak) / (strong - weak)``.
"""

from __future__ import annotations

import numpy as np

from irtrouter.errors import DataError


def _points(costs: np.ndarray | list[float], perfs: np.ndarray | list[float]) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(costs, dtype=np.float64).ravel()
    p = np.asarray(perfs, dtype=np.float64).ravel()
    if c.shape != p.shape or len(c) == 0:
        raise DataError("costs and performances must be non-empty and of equal length")
    if not (np.isfinite(c).all() and np.isfinite(p).all()):
        raise DataError("costs and performances must be finite")
    return c, p


def pareto_front(costs: np.ndarray | list[float], perfs: np.ndarray | list[float]) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and performance (higher),
    sorted by cost."""
    c, p = _points(costs, perfs)
    order = np.lexsort((-p, c))  # by cost, best performance first among equal costs
    front, best = [], -np.inf
    for i in order:
        if p[i] > best:
            front.append(int(i))
            best = p[i]
    return np.asarray(front, dtype=np.int64)


def hypervolume(costs: np.ndarray | list[float], perfs: np.ndarray | list[float], cost_ref: float) -> float:
    """Dominated area with cost scaled by ``cost_ref`` and reference point (1, 0).

    Examples
    --------
    >>> round(hypervolume([0.2, 0.6], [0.5, 0.8], cost_ref=1.0), 6)  # 0.4*0.5 + 0.4*0.8
    0.52
    """
    if cost_ref <= 0:
        raise DataError(f"cost_ref must be > 0, got {cost_ref}")
    c, p = _points(costs, perfs)
    c = c / cost_ref
    keep = c <= 1
    if not keep.any():
        return 0.0
    c, p = c[keep], np.clip(p[keep], 0.0, 1.0)
    front = pareto_front(c, p)
    xs = np.append(c[front], 1.0)
    return float(np.sum(np.diff(xs) * p[front]))


def cpt(
    costs: np.ndarray | list[float], perfs: np.ndarray | list[float], x: float, best_perf: float, best_cost: float
) -> float:
    """Cost to reach ``x * best_perf``, as a share of ``best_cost``; ``inf`` if never reached.

    Examples
    --------
    >>> cpt([1.0, 2.0, 5.0], [0.6, 0.9, 0.95], x=0.9, best_perf=1.0, best_cost=10.0)
    0.2
    """
    if best_cost <= 0:
        raise DataError(f"best_cost must be > 0, got {best_cost}")
    c, p = _points(costs, perfs)
    reached = p >= x * best_perf - 1e-12
    return float(c[reached].min() / best_cost) if reached.any() else float("inf")


def upper_hull(costs: np.ndarray | list[float], perfs: np.ndarray | list[float]) -> np.ndarray:
    """The non-decreasing upper convex hull of the points, as an (m, 2) array sorted by cost."""
    c, p = _points(costs, perfs)
    pts = sorted(set(zip(c.tolist(), p.tolist(), strict=True)))
    hull: list[tuple[float, float]] = []
    for pt in pts:
        # Drop the last hull point while it lies on or below the segment to the new point.
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (pt[1] - y1) - (y2 - y1) * (pt[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(pt)
    arr = np.asarray(hull, dtype=np.float64)
    # Keep only the rising part: past the best point, spending more buys nothing.
    return arr[: int(np.argmax(arr[:, 1])) + 1]


def aiq(costs: np.ndarray | list[float], perfs: np.ndarray | list[float], max_cost: float) -> float:
    """RouterBench's AIQ (see the module docstring).

    Examples
    --------
    >>> aiq([1.0, 3.0], [0.5, 0.9], max_cost=4.0)  # (2*(0.5+0.9)/2 + 1*0.9) / 4
    0.575
    """
    hull = upper_hull(costs, perfs)
    if max_cost <= 0 or max_cost < hull[-1, 0]:
        raise DataError(f"max_cost must be >= the largest hull cost {hull[-1, 0]}, got {max_cost}")
    xs = np.append(hull[:, 0], max_cost)
    ys = np.append(hull[:, 1], hull[-1, 1])
    area = float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2))
    return area / max_cost


def apgr(
    strong_shares: np.ndarray | list[float], perfs: np.ndarray | list[float], weak_perf: float, strong_perf: float
) -> float:
    """RouteLLM's APGR: trapezoid mean of the performance gap recovered over strong-call shares.

    The end points (0 calls -> weak performance, all calls -> strong performance) are added.

    Examples
    --------
    >>> apgr([0.5], [0.8], weak_perf=0.6, strong_perf=1.0)  # PGR 0.5 at half the calls
    0.5
    """
    if strong_perf == weak_perf:
        raise DataError("strong and weak performance are equal: the gap is zero")
    s, p = _points(strong_shares, perfs)
    if (s < 0).any() or (s > 1).any():
        raise DataError("strong-call shares must lie in [0, 1]")
    pgr = (p - weak_perf) / (strong_perf - weak_perf)
    xs = np.concatenate([[0.0], s, [1.0]])
    ys = np.concatenate([[0.0], pgr, [1.0]])
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], ys[order]
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2))
