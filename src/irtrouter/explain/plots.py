"""Figures of the explain report (matplotlib, Agg backend; imported only when a report is built).

Each function draws one figure from objects computed elsewhere and returns it; nothing here
computes a number the report states.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from irtrouter.explain.abilities import AbilityTable
from irtrouter.explain.difficulty import KnownLevels, QueryDifficulties
from irtrouter.explain.routing_analysis import BandRouting, RoutingShares

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> Figure:
    # The object API with no pyplot: no global figure registry, no GUI backend, thread-safe.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def ability_heatmap(table: AbilityTable) -> Figure:
    """LLMs (rows, most able first) x ability dimensions: theta (paper Figure 10)."""
    order = np.argsort(-table.mean_logit, kind="stable")
    values = table.values[order]
    labels = list(table.dimensions)
    if table.dimension_tasks is not None:
        labels = [f"{d} ({t})" for d, t in zip(labels, table.dimension_tasks, strict=True)]
    fig = _figure(max(6.0, 0.34 * len(labels) + 3.0), max(2.5, 0.38 * len(order) + 2.2))
    ax = fig.add_subplot()
    if table.kind == "nirt":  # named abilities in (0, 1)
        image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    else:  # latent, centred on the pool mean: a diverging scale around 0
        limit = float(np.abs(values).max()) or 1.0
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_yticks(range(len(order)), [table.llm_ids[j] for j in order], fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_title(f"{table.kind.upper()} abilities (rows: most able first by mean logit)", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="ability theta")
    return fig


def ability_bars(table: AbilityTable, accuracy: dict[str, float] | None = None) -> Figure:
    """Per LLM: mean logit (with its standard error, when known) and mean ability over dimensions
    (paper Figure 4), and mean score."""
    order = np.argsort(table.mean_logit, kind="stable")  # barh draws bottom-up: most able on top
    names = [table.llm_ids[j] for j in order]
    se = None if table.mean_logit_se is None else table.mean_logit_se[order]
    panels = [
        ("mean logit over training queries (identified)", table.mean_logit[order], se),
        ("mean ability over dimensions (paper Fig. 4)", table.mean_over_dims[order], None),
    ]
    if accuracy:
        panels.append(("mean observed score", np.array([accuracy.get(m, np.nan) for m in names]), None))
    fig = _figure(4.0 * len(panels), max(2.5, 0.32 * len(names) + 1.6))
    axes = fig.subplots(1, len(panels), sharey=True)
    for ax, (title, values, errors) in zip(np.atleast_1d(axes), panels, strict=True):
        ax.barh(range(len(names)), values, color="#4c72b0", xerr=errors, error_kw={"elinewidth": 0.8})
        ax.axvline(0.0, color="black", linewidth=0.6)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    np.atleast_1d(axes)[0].set_yticks(range(len(names)), names)
    return fig


def ability_profiles(table: AbilityTable) -> Figure:
    """One small bar chart per LLM of its ability on every dimension (paper Figure 10)."""
    n = len(table.llm_ids)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig = _figure(4.2 * cols, 2.3 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    order = np.argsort(-table.mean_logit, kind="stable")
    x = np.arange(len(table.dimensions))
    for ax, j in zip(axes, order, strict=False):
        ax.bar(x, table.values[j], color=np.where(table.values[j] >= 0, "#4c72b0", "#c44e52"))
        ax.set_title(table.llm_ids[j], fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    short = [d if len(d) <= 14 else d[:13] + "." for d in table.dimensions]
    for ax in axes[max(0, n - cols) : n]:
        ax.set_xticks(x, short, rotation=90, fontsize=6)
    return fig


def difficulty_by_task(difficulties: Sequence[QueryDifficulties]) -> Figure:
    """Box plots of difficulty per task, one colour per set of queries (training, data...)."""
    groups = [d.by_task() for d in difficulties]
    tasks = list(dict.fromkeys(t for g in groups for t in g))
    first = groups[0]
    tasks.sort(key=lambda t: float(np.median(first[t])) if t in first and len(first[t]) else np.inf)
    fig = _figure(9.0, max(3.0, 0.3 * len(tasks) * len(groups) + 1.5))
    ax = fig.add_subplot()
    width = 0.8 / len(groups)
    colours = _colours(len(groups))
    for g, (group, d) in enumerate(zip(groups, difficulties, strict=True)):
        pos = [i + (g - (len(groups) - 1) / 2) * width for i, t in enumerate(tasks) if t in group]
        data = [group[t] for t in tasks if t in group]
        if not data:
            continue
        parts = ax.boxplot(
            data, positions=pos, widths=width * 0.9, orientation="horizontal", patch_artist=True, showfliers=False
        )
        for box in parts["boxes"]:
            box.set_facecolor(colours[g])
        ax.plot([], [], color=colours[g], linewidth=6, label=f"{d.source} ({len(d.difficulty)})")
    ax.set_yticks(range(len(tasks)), [t or "(no task)" for t in tasks], fontsize=8)
    ax.set_xlabel("difficulty (higher = harder)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Difficulty per task", fontsize=10)
    return fig


def difficulty_vs_levels(difficulty: np.ndarray, levels: KnownLevels, rho: float) -> Figure:
    """Difficulty of the queries at each known level (box plots), with the Spearman correlation."""
    values = sorted(set(levels.levels.tolist()))
    fig = _figure(5.0, 3.2)
    ax = fig.add_subplot()
    data = [difficulty[levels.rows][levels.levels == v] for v in values]
    ax.boxplot(data, positions=range(len(values)), showfliers=False)
    rng = np.random.default_rng(0)  # jitter only spreads the dots; it changes no number
    for i, d in enumerate(data):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=6, alpha=0.5, color="#4c72b0")
    ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
    ax.set_xlabel(levels.name)
    ax.set_ylabel("difficulty")
    ax.set_title(f"Difficulty vs {levels.name}: Spearman {rho:+.2f} (n={len(levels.rows)})", fontsize=9)
    return fig


def routing_share_plot(shares: RoutingShares) -> Figure:
    """Stacked share of queries per LLM as alpha goes from cost-only (0) to performance-only (1)."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    ax.stackplot(shares.alphas, shares.shares.T, labels=shares.llm_ids, colors=_colours(len(shares.llm_ids)))
    ax.set_xlim(float(shares.alphas.min()), float(shares.alphas.max()))
    ax.set_ylim(0, 1)
    ax.set_xlabel("alpha (weight of performance; beta = 1 - alpha)")
    ax.set_ylabel("share of queries")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title("Routing share per LLM across alpha", fontsize=10)
    return fig


def band_routing_plot(bands: BandRouting) -> Figure:
    """Per difficulty band, the share of its queries each LLM receives."""
    fig = _figure(7.5, 2.6)
    ax = fig.add_subplot()
    left = np.zeros(len(bands.bands))
    for j, (m, colour) in enumerate(zip(bands.llm_ids, _colours(len(bands.llm_ids)), strict=True)):
        ax.barh(range(len(bands.bands)), bands.shares[:, j], left=left, color=colour, label=m)
        left += bands.shares[:, j]
    ax.set_yticks(
        range(len(bands.bands)), [f"{b} ({c})" for b, c in zip(bands.bands, bands.counts, strict=True)], fontsize=8
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the band's queries")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(f"Where each difficulty band goes (alpha = {bands.alpha:g})", fontsize=10)
    return fig
