"""PNG plots of an evaluation :class:`~irtrouter.evaluate.report.Report` (matplotlib, headless).

``plot_pareto``
    Cost-performance curves of every router's alpha sweep, one panel per split of a dataset;
    routers whose decisions do not depend on alpha are single points.
``plot_ablation``
    Reward against an ablation's value (warm-up lambda, N...), one panel per dataset and alpha.

Needs ``matplotlib`` (a dependency of irtrouter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irtrouter.errors import ConfigError
from irtrouter.evaluate.report import Report


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("plots need matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(report: Report, dataset: str, path: str | Path) -> Path:
    """One PNG with a panel per split of ``dataset``: Total Cost (x) vs Performance (y) per router."""
    plt = _pyplot()
    points = [r for r in report.tables["points"] if r["dataset"] == dataset]
    if not points:
        raise ConfigError(f"no sweep points for dataset {dataset!r} in the report")
    splits = list(dict.fromkeys(r["split"] for r in points))
    kinds = {(r["dataset"], r["split"]): r["cost_kind"] for r in report.tables["routing"]}
    fig, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 5), squeeze=False)
    for ax, split in zip(axes[0], splits, strict=True):
        sub = [r for r in points if r["split"] == split]
        routers = list(dict.fromkeys(r["router"] for r in sub))
        colours = plt.get_cmap("tab20")  # 20 distinct colours: the default cycle repeats after 10 routers
        for i, router in enumerate(routers):
            colour = colours(i % 20)
            pts = sorted(((r["total_cost"], r["performance"], r["alpha"]) for r in sub if r["router"] == router),
                         key=lambda p: p[2])  # fmt: skip
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            if len({(x, y) for x, y in zip(xs, ys, strict=True)}) == 1:
                marker = "*" if router == "oracle" else "s"
                ax.scatter(xs[:1], ys[:1], marker=marker, s=60, label=router, zorder=3, color=colour)
            else:
                ax.plot(xs, ys, marker=".", linewidth=1.2, label=router, color=colour)
        ax.set_xlabel(f"Total Cost, USD ({kinds.get((dataset, split), '?')})")
        ax.set_ylabel("Performance")
        ax.set_title(f"{dataset}, {split}: alpha swept 0..1")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_ablation(report: Report, ablation: str, path: str | Path, *, log_x: bool = False) -> Path:
    """Reward vs the ablation's value: a panel per (alpha, dataset), a line per router and split."""
    plt = _pyplot()
    rows = [r for r in report.tables["ablations"] if r["ablation"] == ablation]
    if not rows:
        raise ConfigError(f"no rows for ablation {ablation!r} in the report")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    fig, axes = plt.subplots(
        len(alphas), len(datasets), figsize=(4.2 * len(datasets), 3.2 * len(alphas)), squeeze=False
    )
    for i, alpha in enumerate(alphas):
        for j, dataset in enumerate(datasets):
            ax = axes[i][j]
            sub = [r for r in rows if r["dataset"] == dataset and r["alpha"] == alpha]
            for router, split in dict.fromkeys((r["router"], r["split"]) for r in sub):
                line = [r for r in sub if r["router"] == router and r["split"] == split]
                ax.plot([r["value"] for r in line], [r["reward"] for r in line], marker="o", label=f"{router} {split}")
            if log_x:
                ax.set_xscale("log")
            ax.set_title(f"{dataset}, alpha = {alpha}", fontsize=9)
            ax.set_xlabel(ablation)
            ax.set_ylabel("Reward")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
