"""Property tests of the routing rule S = alpha * P - beta * C (eq. 1-2)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irtrouter.errors import ConfigError, UnknownLLMError
from irtrouter.routing.rule import allowed_mask, choose, resolve_weights

# Values on a grid of 1/1000: exact ties happen (and must break the same way), near-ties do not.
grid = st.integers(0, 1000).map(lambda k: k / 1000)


@st.composite
def pools(draw, min_llms=2, max_llms=8):
    n = draw(st.integers(min_llms, max_llms))
    p = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    c = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    return p, c


@settings(max_examples=300, deadline=None)
@given(pools())
def test_beta_zero_picks_the_argmax_of_p(pool):
    p, c = pool
    j = choose(p[None], c, alpha=1.0, beta=0.0)[0]
    assert p[j] == p.max()
    assert c[j] == c[p == p.max()].min()  # among the best, the cheapest


@settings(max_examples=300, deadline=None)
@given(pools(), st.lists(st.floats(0, 1), min_size=2, max_size=6))
def test_chosen_cost_never_rises_as_beta_rises(pool, betas):
    p, c = pool
    costs = [c[choose(p[None], c, alpha=1.0, beta=b)[0]] for b in sorted(betas)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(costs))


@settings(max_examples=300, deadline=None)
@given(pools(), st.floats(0.01, 1), st.floats(0.01, 1), st.floats(0.001, 1000))
def test_scaling_alpha_and_beta_together_changes_nothing(pool, alpha, beta, k):
    p, c = pool
    assert choose(p[None], c, alpha, beta)[0] == choose(p[None], c, alpha * k, beta * k)[0]


@settings(max_examples=300, deadline=None)
@given(pools(min_llms=1), grid, grid, st.floats(0, 1), st.floats(0, 1))
def test_a_dominated_llm_is_never_chosen(pool, dp, dc, alpha, beta):
    p, c = pool
    if alpha + beta == 0 or (dp == 0 and dc == 0):
        return
    # Append an LLM dominated by LLM 0: no better P, no lower cost, strictly worse on one.
    p2 = np.append(p, max(p[0] - dp, 0.0))
    c2 = np.append(c, c[0] + dc)
    if p2[-1] == p[0] and c2[-1] == c[0]:
        return
    assert choose(p2[None], c2, alpha, beta)[0] != len(p)


def test_ties_break_on_cost_then_p_then_order():
    assert choose(np.array([[0.5, 0.5]]), np.array([0.2, 0.1]), 1.0, 0.0)[0] == 1
    assert choose(np.array([[0.6, 0.4]]), np.array([0.5, 0.5]), 0.0, 1.0)[0] == 0
    assert choose(np.array([[0.5, 0.5]]), np.array([0.3, 0.3]), 0.5)[0] == 0


def test_allowed_subset_and_weights_validation():
    p, c = np.array([[0.9, 0.5, 0.1]]), np.array([0.5, 0.2, 0.0])
    mask = allowed_mask(("a", "b", "c"), ["b", "c"])
    assert choose(p, c, 1.0, 0.0, mask)[0] == 1
    with pytest.raises(UnknownLLMError, match="unknown LLM 'z'"):
        allowed_mask(("a", "b"), ["z"])
    with pytest.raises(ConfigError, match="empty"):
        allowed_mask(("a", "b"), [])
    with pytest.raises(ConfigError, match="both be 0"):
        resolve_weights(0.0, 0.0)
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        resolve_weights(1.5)
    with pytest.raises(ConfigError, match="finite"):
        resolve_weights(0.5, float("nan"))
    assert resolve_weights(2.0, 2.0) == (0.5, 0.5)
