#!/usr/bin/env python3
"""Times FlashQLA's forward (`chunk_gated_delta_rule_fwd`, TileLang kernels) on qla's benchmark shapes, on the
same inputs as qla and FLA.

FlashQLA's own method (its benchmark): the intra-card CP context is built once, outside the timed call
(`_auto_intra_cp_context(k, v, cu_seqlens, 64, auto_cp=True, is_train=False)`), then the forward with that context
is captured in a CUDA graph (baseline_common.time_graph: L2 flushed before each replay, mean of replays, as qla's
bench). The public `chunk_gated_delta_rule` builds the context inside the call, a host synchronisation that a graph
cannot capture. Its outputs are checked against qla's naive fp32 recurrence on the same inputs.

TileLang compiles each kernel on first use (20-40 s per head configuration), inside the warm-up calls, which are not
timed; one process keeps its cache warm for every shape of a run.

Writes JSON (schema "qla.bench.v1", the schema of qla's own bench output):
  {"schema", "implementation", "versions", "device", "date", "method", "rows": [{"name", "h_qk", "h_v",
   "seqlens", "tokens", "ms", "ms_median", "ms_min", "ms_max", "replays", "calls_per_replay", "cp", "errors"}]}

FlashQLA is never committed to this repository: install it on the GPU machine from packages carried with the run.
"""
import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import baseline_common as common  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--qla", default="build/release/qla", help="path of the qla binary (`qla generate`, `qla run`)")
    p.add_argument("--heads", default="headline", help="'all', 'headline' or a list like 2x8,16x64")
    p.add_argument("--seqs", default="headline", help="'all', 'headline' or names like 1x8192,8192x4")
    p.add_argument("--replays", type=int, default=30)
    p.add_argument("--budget-ms", type=float, default=100.0, help="calls per replay = budget / estimated time")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="JSON file to write")
    return p.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault("TILELANG_LOG_LEVEL", "WARNING")
    try:
        import torch
        import flash_qla
        from flash_qla.ops.gated_delta_rule.chunk import (CHUNK_SIZE, _auto_intra_cp_context,
                                                          chunk_gated_delta_rule_fwd)
    except ImportError as e:
        sys.exit(f"flashqla_bench: FlashQLA is not importable here ({e}); install flash-qla and tilelang first")
    heads, names = common.select(args.heads, args.seqs, "flashqla_bench")
    props = torch.cuda.get_device_properties(0)
    rows = []

    def document():
        return dict(schema="qla.bench.v1", implementation="flashqla",
                    versions=dict(flash_qla=getattr(flash_qla, "__version__", "?"), torch=torch.__version__,
                                  cuda=torch.version.cuda),
                    device=dict(name=props.name, sm_count=props.multi_processor_count),
                    date=datetime.date.today().isoformat(),
                    method="cuda_graph: FlashQLA's CP context built once outside the timed call, calls captured "
                           "per replay, L2 flushed before each replay, mean of replays; outputs checked against "
                           "qla's naive fp32 recurrence (errors)",
                    rows=sorted(rows, key=lambda r: (r["h_qk"], r["h_v"], r["tokens"], r["name"])))

    with tempfile.TemporaryDirectory() as tmp:
        for hq, hv in heads:
            for n in names:
                seqlens = common.SEQS[n]
                x = common.load_inputs(args.qla, hq, hv, seqlens, args.seed, tmp)
                x["cu"] = x["cu"].int()  # int32 offsets, as FlashQLA's own benchmark passes them
                ctx = _auto_intra_cp_context(x["k"], x["v"], x["cu"], CHUNK_SIZE, True, False)

                def fn():
                    # Returns (g, A, o, h, final_state, cp_cache).
                    return chunk_gated_delta_rule_fwd(x["q"], x["k"], x["v"], x["g"], x["beta"], 128 ** -0.5,
                                                      initial_state=x["h0"], cu_seqlens=x["cu"],
                                                      output_final_state=True, cp_context=ctx)

                r = fn()
                errs = common.errors(r[2], r[4], *common.reference_outputs(args.qla, x["dir"]))
                del r
                mean, med, lo, hi, calls = common.time_graph(fn, args.replays, args.budget_ms)
                row = dict(name=common.row_name(hq, hv, seqlens), h_qk=hq, h_v=hv, seqlens=seqlens,
                           tokens=int(x["q"].shape[1]), ms=mean, ms_median=med, ms_min=lo, ms_max=hi,
                           replays=args.replays, calls_per_replay=calls,
                           cp=bool(getattr(ctx, "is_intra", False)), errors=errs)
                rows.append(row)
                common.write_document(args.out, document())  # a time limit keeps the rows done so far
                print(f"flashqla {row['name']:<24} {mean:.4f} ms  o err {errs['o']:.2e}", file=sys.stderr,
                      flush=True)
                del x, ctx
                torch.cuda.empty_cache()
    common.write_document(args.out, document())

if __name__ == "__main__":
    main()
