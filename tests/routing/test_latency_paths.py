"""The fast routing paths (issue 16) decide, predict and explain exactly as before.

``golden_decisions.json`` holds the essentials of every decision of ``_calls`` below: the choice,
the rule, the reason text, the runner-up, the difficulty, the top dimensions with their weights,
each LLM's P-hat (numbers to 4 digits), the guard's and the gate's flags.

Until 8205276 this test held a SHA-256 digest of the whole ``to_dict()`` of those decisions. It was
written with the routing code before the fast paths (the loop-per-query explanation, the neighbour
search with a similarity copy, a ``replace`` per guarded decision). It was rewritten only when
``predictor="auto"``'s decisions changed on purpose (issue 12: the guard's spread, the stacked
ensemble with the confidence bound and no refit, the novelty gate), each time after checking that
the previous digest still held with the new part turned off.

That digest of 6-digit numbers did not hold on another machine: torch's AVX2 kernels in place of
AVX-512 (``ATEN_CPU_CAPABILITY=avx2``) round a trained parameter differently. So the file was
written on 2026-12-01 from 8205276's code, on an AVX-512 machine where the old digest no longer
matched. It is compared with strings and choices exact and numbers within 2e-4, twice their
rounding. It holds under ``ATEN_CPU_CAPABILITY=avx2`` and ``OPENBLAS_CORETYPE=Haswell``.

``IRTROUTER_WRITE_GOLDEN=1`` rewrites the file; do this only when decisions change on purpose, and
say so in the commit. Within one run the batch path and the one-query path are compared bit for
bit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from irtrouter.embed.threads import blas_threads
from irtrouter.routing import IRTRouter
from tests.compare import assert_close
from tests.explain.conftest import fit

GOLDEN = Path(__file__).with_name("golden_decisions.json")
N_QUERIES = 12


@pytest.fixture(scope="module")
def routers(topic_data) -> dict[str, IRTRouter]:
    """MIRT with warm-up, NIRT (relevance from neighbours), and a guarded, calibrated,
    kNN-blended router (``predictor="auto"``)."""
    return {
        "mirt": fit("mirt", topic_data),
        "nirt": fit("nirt", topic_data),
        "auto": fit("auto", topic_data, guard=True, calibration="auto", knn_blend=True),
    }


def _calls(router: IRTRouter) -> list[dict]:
    llms = router.llm_ids
    return [
        {"alpha": 0.8},
        {"alpha": 0.3, "rule": "chebyshev"},
        {"alpha": 0.5, "allowed_llms": list(llms[1:3])},
        {"alpha": 0.9, "allowed_llms": [llms[0]]},
        {"preference": 2.0},
        {"budget": 0.3},
    ]


def _decisions(routers: dict[str, IRTRouter], queries: list[str]) -> list[dict]:
    return [
        d.to_dict()
        for name in sorted(routers)
        for call in _calls(routers[name])
        for d in routers[name].route_many(queries, **call)
    ]


def _essentials(decision: dict) -> dict:
    """What a decision must keep across machines: its choice and reason, the numbers to 4 digits."""
    explanation = decision.get("explanation") or {}
    return {
        "llm_id": decision["llm_id"],
        "rule": decision["rule"],
        "alpha": round(decision["alpha"], 4),
        "reason": explanation.get("reason"),
        "runner_up": explanation.get("runner_up"),
        "difficulty": round(decision["difficulty"], 4),
        "top": [[t["dimension"], round(t["weight"], 4)] for t in explanation.get("top_dimensions", ())],
        "llms": [[o["llm_id"], o["allowed"], round(o["p_hat"], 4)] for o in decision["llms"]],
        "flags": {k: decision[k] for k in ("default_llm", "stayed_on_default", "unfamiliar") if k in decision},
    }


def test_decisions_and_explanations_match_the_code_before_the_fast_paths(routers, topic_data):
    queries = list(topic_data[1].queries[:N_QUERIES])
    got = [_essentials(d) for d in _decisions(routers, queries)]
    if os.environ.get("IRTROUTER_WRITE_GOLDEN") == "1":
        GOLDEN.write_text("[\n" + ",\n".join(json.dumps(g, sort_keys=True) for g in got) + "\n]\n")
    assert_close(got, json.loads(GOLDEN.read_text()), "decisions", rel=0, abs=2e-4)


@pytest.mark.parametrize("name", ["mirt", "nirt", "auto"])
def test_the_embedded_batch_path_decides_as_route_many_and_as_one_query_at_a_time(routers, topic_data, name):
    router = routers[name]
    queries = list(topic_data[1].queries[:N_QUERIES])
    X = router.embed(queries)
    for call in _calls(router):
        batch = router.route_many_embedded(X, queries, **call)
        assert batch == router.route_many(queries, **call)
        # One query alone goes through other BLAS kernels than a batch: the same choices and
        # reasons, P-hat equal to float32 rounding.
        single = [router.route(q, **call) for q in queries]
        assert [d.llm_id for d in single] == [d.llm_id for d in batch]
        assert [d.explanation.reason for d in single] == [d.explanation.reason for d in batch]
        np.testing.assert_allclose([d.p_hat for d in single], [d.p_hat for d in batch], rtol=0, atol=1e-6)
        bare = router.route_many_embedded(X, queries, explain=False, **call)
        assert all(b.explanation is None for b in bare)
        assert [dataclasses.replace(b, explanation=d.explanation) for b, d in zip(bare, batch, strict=True)] == batch


def test_decisions_of_one_batch_own_their_extras(routers, topic_data):
    # A dict shared by every decision would let one caller's edit show in the others.
    queries = list(topic_data[1].queries[:3])
    first, second, _ = routers["auto"].route_many(queries, budget=0.3)
    first.extras["mine"] = 1
    assert "mine" not in second.extras


def test_blas_threads_limits_inside_the_block_and_restores_after():
    from threadpoolctl import threadpool_info

    def counts() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = counts()
    with blas_threads(1):
        assert all(n == 1 for n in counts())
        assert float(np.ones(3) @ np.ones(3)) == 3.0
    assert counts() == before
    with blas_threads(None):
        assert counts() == before
