#!/usr/bin/env python3
"""Times FLA's Triton `chunk_gated_delta_rule_fwd` on qla's benchmark shapes, on the same inputs.

Inputs come from `qla generate --dist bench` (FlashQLA's benchmark distribution, fixed seed), so FLA and
qla's own kernels see identical tensors; FLA's outputs are checked against qla's naive fp32 recurrence on the same
inputs. Timing reproduces FlashQLA's published method (baseline_common.py): many calls captured into one CUDA graph,
L2 flushed before each replay, per-call time = replay time / calls; the mean over replays, as qla's bench.

FLA's autotune key leaves T out, so the config it picks depends on the first shape it sees for a head
configuration. `--order` selects how that first shape is chosen: `warm2048` tunes on 1x2048 first,
`own` tunes on the timed shape itself. The runner times both in fresh processes (fresh TRITON_CACHE_DIR) and keeps
the faster, recording which won. With `--cache-dir`, each (head configuration, order) keeps its Triton cache there
instead, so a later run on the same card reuses FLA's autotune choices (FLA caches them by default,
FLA_CACHE_RESULTS) and compiled kernels: the same config for the same order, without the tuning time; each row's
`autotune` says "cached" when its worker found that cache already holding autotune results, else "fresh".

Writes JSON (schema "qla.bench.v1", the schema of qla's own bench output):
  {"schema", "implementation", "versions", "device", "date", "method", "rows": [{"name", "h_qk", "h_v",
   "seqlens", "ms", "ms_median", "ms_min", "ms_max", "replays", "calls_per_replay", "order", "errors"}]}

FLA is never committed to this repository: install it on the GPU machine from wheels carried with the run.
"""
import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import baseline_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qla", default="build/release/qla", help="path of the qla binary (for `qla generate`)")
    p.add_argument("--heads", default="all", help="'all', 'headline' or a list like 2x8,16x64")
    p.add_argument("--seqs", default="headline", help="'all', 'headline' or names like 1x8192,8192x4")
    p.add_argument("--order", choices=["warm2048", "own", "both"], default="both")
    p.add_argument("--replays", type=int, default=30)
    p.add_argument("--budget-ms", type=float, default=100.0, help="calls per replay = budget / estimated time")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--cache-dir", default="",
                   help="keep each (head configuration, order)'s Triton cache in DIR/<hq>x<hv>-<order> across runs "
                        "(default: a fresh one per worker)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--shapes", default="", help=argparse.SUPPRESS)
    return p.parse_args()


def worker(args):
    import torch
    from fla.ops.gated_delta_rule.chunk import chunk_gated_delta_rule_fwd
    from fla.ops.utils.index import prepare_chunk_indices
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(";"):
            hq, hv, seqs, timed = shape.split("|")
            seqlens = [int(s) for s in seqs.split(",")]
            x = common.load_inputs(args.qla, int(hq), int(hv), seqlens, args.seed, tmp)
            ci = prepare_chunk_indices(x["cu"], 64)
            T = x["q"].shape[1]

            def fn():
                return chunk_gated_delta_rule_fwd(x["q"], x["k"], x["v"], x["g"], x["beta"], 128 ** -0.5,
                                                  x["h0"], True, cu_seqlens=x["cu"], chunk_indices=ci)
            if timed != "1":
                fn()  # tunes FLA's kernels on this shape, not timed
                torch.cuda.synchronize()
                continue
            r = fn()  # FLA 0.5.2 returns (g, o, A, final_state, initial_state, g_input)
            errs = common.errors(r[1], r[3], *common.reference_outputs(args.qla, x["dir"]))
            del r
            mean, med, lo, hi, calls = common.time_graph(fn, args.replays, args.budget_ms)
            rows.append(dict(name=common.row_name(hq, hv, seqlens), h_qk=int(hq), h_v=int(hv),
                             seqlens=seqlens, tokens=T, ms=mean, ms_median=med, ms_min=lo, ms_max=hi,
                             replays=args.replays, calls_per_replay=calls, errors=errs))
            del x
            torch.cuda.empty_cache()
    pathlib.Path(args.out).write_text(json.dumps(rows))


def triton_cache(cache_dir, hq, hv, order):
    """The Triton cache folder of one (head configuration, order) under --cache-dir, and whether it already
    holds autotune results; (None, False) without --cache-dir."""
    if not cache_dir:
        return None, False
    path = pathlib.Path(cache_dir) / f"{hq}x{hv}-{order}"
    path.mkdir(parents=True, exist_ok=True)
    return path, any(path.rglob("*.autotune.json"))


def run_worker(args, shapes, cache=None):
    """Runs the shapes in a fresh process with TRITON_CACHE_DIR = `cache` (a fresh folder when None)."""
    env = dict(os.environ, FLA_DISABLE_BACKEND_DISPATCH="1")
    with tempfile.TemporaryDirectory() as tmp:
        env["TRITON_CACHE_DIR"] = str(cache) if cache else tmp
        rows = pathlib.Path(tmp) / "rows.json"  # a file, so nothing FLA or Triton prints can corrupt it
        subprocess.run([sys.executable, __file__, "--worker", "--qla", args.qla, "--seed", str(args.seed),
                        "--replays", str(args.replays), "--budget-ms", str(args.budget_ms),
                        "--out", str(rows), "--shapes", ";".join(shapes)], env=env, check=True)
        return json.loads(rows.read_text())


def main():
    args = parse_args()
    if args.worker:
        return worker(args)
    try:
        import torch
        import triton
        import fla
    except ImportError as e:
        sys.exit(f"fla_bench: FLA is not importable here ({e}); install flash-linear-attention first")
    heads, names = common.select(args.heads, args.seqs, "fla_bench")
    props = torch.cuda.get_device_properties(0)
    best = {}

    def document():
        return dict(schema="qla.bench.v1", implementation="fla",
                    versions=dict(fla=getattr(fla, "__version__", "?"), triton=triton.__version__,
                                  torch=torch.__version__, cuda=torch.version.cuda),
                    device=dict(name=props.name, sm_count=props.multi_processor_count),
                    date=datetime.date.today().isoformat(),
                    method="cuda_graph: calls captured per replay, L2 flushed before each replay, mean of replays; "
                           + ("fastest of FLA tuned on 1x2048 first and FLA tuned on the timed shape"
                              if args.order == "both" else f"FLA autotuned by the order '{args.order}'")
                           + ("; a row whose autotune is 'cached' reused the autotune choices of an earlier "
                              "run on this card with the same order (Triton cache kept by --cache-dir)"
                              if args.cache_dir else "")
                           + "; outputs checked against qla's naive fp32 recurrence (errors)",
                    rows=sorted(best.values(), key=lambda r: (r["h_qk"], r["h_v"], r["tokens"], r["name"])))

    for hq, hv in heads:
        orders = ["warm2048", "own"] if args.order == "both" else [args.order]
        for order in orders:
            if order == "warm2048":
                cache, cached = triton_cache(args.cache_dir, hq, hv, order)
                shapes = [f"{hq}|{hv}|2048|0"] + [f"{hq}|{hv}|{','.join(map(str, common.SEQS[n]))}|1"
                                                   for n in names]
                results = run_worker(args, shapes, cache)
                for r in results:
                    r["autotune"] = "cached" if cached else "fresh"
            else:  # tuned on each timed shape: a cache of its own would replay the first shape's choice
                results = []
                for n in names:
                    results += run_worker(args, [f"{hq}|{hv}|{','.join(map(str, common.SEQS[n]))}|1"])
                for r in results:
                    r["autotune"] = "fresh"
            for r in results:
                r["order"] = order
                key = r["name"]
                if key not in best or r["ms"] < best[key]["ms"]:
                    best[key] = r
                print(f"fla {r['name']:<24} {order:<9} {r['ms']:.4f} ms", file=sys.stderr, flush=True)
        common.write_document(args.out, document())  # a time limit keeps the head configurations done so far
    common.write_document(args.out, document())

if __name__ == "__main__":
    main()
