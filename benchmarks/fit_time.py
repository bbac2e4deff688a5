"""Fit time of ``default`` against MIRT's on the same training data (issue 12's time target).

For each setting (dataset, split, seed of the protocol, :mod:`irtrouter.evaluate.protocol`) the
registry's ``mirt`` and ``default`` (what ``irtrouter train`` builds) are fitted on the same
training split and their fit seconds and ratio are printed, with ``default``'s stages
(``training_["stage_seconds"]``: embedding the LLM profiles, validation, final fit, finish).
Fit seconds are counted as ``benchmarks/pays.py`` counts them (the harness,
:func:`irtrouter.evaluate.harness.run_setting`): the query embeddings are computed before the clock
starts (from the disk cache) and handed to ``Router.fit``; embedding the LLM profiles is inside.
Wall seconds are what pays.py reports; the process CPU seconds are printed beside them because the
machine is shared (training runs on one thread, so with no contention the two agree).

``--baseline SRC`` compares two trees in one run: every repetition fits every setting once in a
child process importing irtrouter from ``SRC`` (e.g. a copy of HEAD's ``src``:
``git archive HEAD src | tar -x -C /tmp/f12``) and once from this checkout, alternating which goes
first, so both see the same load. ``--save DIR`` keeps each tree's fitted ``default`` routers
(``router.save``) and compares them: every array bit for bit and ``config.json`` but for its
timings. ``--profile N`` prints the N costliest functions (cProfile, cumulative) of one
``default`` fit per setting. ``--default-spec SPEC`` times a variant in ``default``'s place (a
registry spec, e.g. ``'default:candidates=["mirt","2pl:init=data"]'``).

    python benchmarks/fit_time.py [--settings llmrouter:ID:0 routellm:ID:0 zeroeval:ID:0]
        [--repeats 2] [--baseline /tmp/f12/head_src] [--save /tmp/f12/saved] [--profile 30]
        [--default-spec SPEC]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

SETTINGS = ("llmrouter:ID:0", "routellm:ID:0", "zeroeval:ID:0", "routerbench_subset:ID:0")
# Keys of config.json that are wall-clock timings, not fitted state.
TIMING_KEYS = frozenset({"seconds", "stage_seconds", "embed_seconds", "train_seconds"})


def fit_setting(spec: str, save: Path | None, profile: int, default_spec: str = "default") -> dict[str, Any]:
    """Fit ``mirt`` then ``default`` on one setting (in this process's irtrouter); seconds per router."""
    from irtrouter.embed.cache import CachedEmbedder
    from irtrouter.embed.registry import make_embedder
    from irtrouter.evaluate.harness import embed_setting
    from irtrouter.evaluate.protocol import named_setting
    from irtrouter.evaluate.routers.contract import TrainingData
    from irtrouter.evaluate.routers.registry import make_router

    setting = named_setting(spec)
    embedder = CachedEmbedder(make_embedder("use"))
    X_train, _ = embed_setting(setting, embedder)  # not fit time, as in the harness
    data = TrainingData(setting.train, setting.catalog, X_train, embedder)
    out: dict[str, Any] = {"setting": spec, "n_queries": setting.train.n_queries, "n_llms": setting.train.n_llms}
    for name in ("mirt", "default"):
        router = make_router(default_spec if name == "default" else name)
        profiler = cProfile.Profile() if profile and name == "default" else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        router.fit(data)
        if profiler is not None:
            profiler.disable()
        out[name], out[f"{name}_cpu"] = time.perf_counter() - started, time.process_time() - cpu
        if name == "default":
            out["stages"] = router.router_.training_["stage_seconds"]
            if save is not None:
                router.router_.save(save / spec.replace(":", "_"))
        if profiler is not None:
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(profile)
            out["profile"] = buf.getvalue()
    return out


def warm_up_torch() -> None:
    """One tiny fit with torch, untimed: the first optimiser step of a process loads parts of torch
    (about 2 s measured), which would otherwise be charged to whichever torch-trained router (NIRT;
    MIRT and the 2PL train in numpy since) is fitted first. A tree from before the numpy engine has
    no ``engine`` argument and trains MIRT with torch anyway."""
    import inspect

    from irtrouter.irt.mirt import MIRTPredictor
    from irtrouter.irt.training import fit_parameters

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 8)).astype(np.float32)
    Y = (rng.random((64, 3)) < 0.5).astype(np.float32)
    model = MIRTPredictor(n_dims=2, max_epochs=2)
    if "engine" in inspect.signature(fit_parameters).parameters:
        fit_parameters(model, X, X[:3], Y, engine="torch")
    else:
        model.fit(X, X[:3], Y)


def child(settings: list[str], save: Path | None, profile: int, default_spec: str) -> None:
    warm_up_torch()
    for spec in settings:
        print(json.dumps(fit_setting(spec, save, profile, default_spec)), flush=True)


def run_tree(
    label: str, src: str | None, settings: list[str], save: Path | None, profile: int, default_spec: str
) -> list[dict]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--child", "--settings", *settings, "--profile", str(profile)]
    cmd += ["--default-spec", default_spec]
    if save is not None:
        cmd += ["--save", str(save / label)]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        r["tree"] = label
        print(f"  {label:8s} {r['setting']:22s} mirt {r['mirt']:6.2f}s  default {r['default']:6.2f}s", file=sys.stderr)
    return rows


def compare_saved(a: Path, b: Path) -> list[str]:
    """Differences between two saved routers: arrays bit for bit, config.json without timings."""

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in TIMING_KEYS}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    diffs = []
    names_a = sorted(p.name for p in a.iterdir())
    names_b = sorted(p.name for p in b.iterdir())
    if names_a != names_b:
        diffs.append(f"files differ: {names_a} vs {names_b}")
    for name in set(names_a) & set(names_b):
        pa, pb = a / name, b / name
        if name.endswith(".json"):
            ja, jb = strip(json.loads(pa.read_text())), strip(json.loads(pb.read_text()))
            if ja != jb:
                leaves = list(json_differences(ja, jb))
                numeric = [abs(x - y) for _, x, y in leaves if isinstance(x, float) and isinstance(y, float)]
                largest = f", largest numeric |diff| {max(numeric):.2g}" if numeric else ""
                where = ", ".join(path for path, _, _ in leaves[:3]) + (", ..." if len(leaves) > 3 else "")
                diffs.append(f"{name} differs in {len(leaves)} values ({where}){largest}")
        elif name.endswith(".npz"):
            with np.load(pa, allow_pickle=False) as za, np.load(pb, allow_pickle=False) as zb:
                if sorted(za.files) != sorted(zb.files):
                    diffs.append(f"{name}: arrays {sorted(za.files)} vs {sorted(zb.files)}")
                for key in set(za.files) & set(zb.files):
                    x, y = za[key], zb[key]
                    if x.dtype != y.dtype or x.shape != y.shape:
                        diffs.append(f"{name}:{key} differs ({x.dtype}{x.shape} vs {y.dtype}{y.shape})")
                    elif x.tobytes() != y.tobytes():
                        size = f", max |diff| {np.abs(x - y).max():.2g}" if x.dtype.kind == "f" else ""
                        diffs.append(f"{name}:{key} differs{size}")
        elif pa.read_bytes() != pb.read_bytes():
            diffs.append(f"{name} differs (bytes)")
    return diffs


def json_differences(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(path, a's value, b's value)`` for every leaf where two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            yield from json_differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from json_differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield path, a, b


def count_arrays(path: Path) -> int:
    n = 0
    for p in path.iterdir():
        if p.name.endswith(".npz"):
            with np.load(p, allow_pickle=False) as z:
                n += len(z.files)
    return n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help="dataset:split:seed")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline", default=None, help="src folder of the tree to compare against")
    parser.add_argument("--save", type=Path, default=None, help="save each tree's default routers here")
    parser.add_argument("--profile", type=int, default=0, help="print this many functions of a profile")
    parser.add_argument("--default-spec", default="default", help="router spec timed as default, e.g. a variant of it")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.settings, args.save, args.profile, args.default_spec)
        return
    trees: list[tuple[str, str | None]] = [("this", None)]
    if args.baseline:
        trees = [("baseline", args.baseline), *trees]
    print(f"python benchmarks/fit_time.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}")
    load_before = os.getloadavg()
    rows: list[dict] = []
    for rep in range(args.repeats):
        order = trees if rep % 2 == 0 else trees[::-1]
        for label, src in order:
            save = args.save if rep == 0 else None
            rows += run_tree(label, src, args.settings, save, args.profile, args.default_spec)
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}\n")
    header = (
        "| setting | queries x LLMs | tree | mirt s | default s | ratio | CPU s: mirt, default, ratio "
        "| default's stages (median s) |"
    )
    print(header + "\n|---|---|---|---|---|---|---|---|")
    for spec in args.settings:
        for label, _ in trees:
            mine = [r for r in rows if r["setting"] == spec and r["tree"] == label]
            m = statistics.median(r["mirt"] for r in mine)
            d = statistics.median(r["default"] for r in mine)
            mc = statistics.median(r["mirt_cpu"] for r in mine)
            dc = statistics.median(r["default_cpu"] for r in mine)
            stages = {k: statistics.median(r["stages"].get(k, 0.0) for r in mine) for k in mine[0]["stages"]}
            parts = ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
            size = f"{mine[0]['n_queries']} x {mine[0]['n_llms']}"
            cpu = f"{mc:.2f}, {dc:.2f}, {dc / mc:.2f}"
            print(f"| {spec} | {size} | {label} | {m:.2f} | {d:.2f} | {d / m:.2f} | {cpu} | {parts} |")
    if len(trees) == 2:
        print("\nratio of medians, this tree's default / baseline's mirt (wall):")
        for spec in args.settings:
            base = statistics.median(r["mirt"] for r in rows if r["setting"] == spec and r["tree"] == "baseline")
            now = statistics.median(r["default"] for r in rows if r["setting"] == spec and r["tree"] == "this")
            print(f"  {spec}: {now / base:.2f}")
    if args.save is not None and len(trees) == 2:
        print("\nsaved routers, baseline vs this tree:")
        for spec in args.settings:
            slug = spec.replace(":", "_")
            a, b = args.save / "baseline" / slug, args.save / "this" / slug
            diffs = compare_saved(a, b)
            print(f"  {spec}: {count_arrays(a)} arrays; " + ("identical" if not diffs else "; ".join(diffs)))
    for r in rows:
        if "profile" in r:
            print(f"\n-- profile of default's fit, {r['setting']} ({r['tree']}) --\n{r['profile']}")


if __name__ == "__main__":
    main()
