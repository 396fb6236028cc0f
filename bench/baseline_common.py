"""What the baseline benches (fla_bench.py, flashqla_bench.py) share: the benchmark matrix, inputs from
`qla generate` (so every system sees the same tensors), the reference outputs they are checked against (qla's
naive fp32 recurrence on the GPU, `qla run --algorithm naive`, itself checked against float64 by qla's tests), and
the CUDA-graph timing.

Timing reproduces FlashQLA's published method: many calls captured into one CUDA graph, L2 flushed before each
replay, per-call time = replay time / calls. `ms` is the mean over replays, the statistic qla's own bench reports;
the median, minimum and maximum are recorded beside it.
"""
import json
import os
import pathlib
import subprocess
import sys

# The qwen35-fwd matrix of FlashQLA's forward benchmark: head configurations x sequence sets.
HEADS = [(2, 8), (4, 16), (8, 32), (16, 64), (16, 32), (8, 24), (16, 48), (16, 16), (32, 32)]
HEADLINE_HEADS = [(2, 8), (4, 16), (8, 32), (16, 64), (16, 32)]
SEQS = {
    "1x32768": [32768], "1x16384": [16384], "1x8192": [8192], "1x4096": [4096], "1x2048": [2048],
    "28672+4096": [28672, 4096], "24576+8192": [24576, 8192], "16384+16384": [16384, 16384],
    "8192+24576": [8192, 24576], "4096+28672": [4096, 28672], "12288+4096": [12288, 4096],
    "6144+2048": [6144, 2048], "4096+4096": [4096, 4096], "2048+6144": [2048, 6144], "1024+7168": [1024, 7168],
    "8192x4": [8192] * 4, "4096x8": [4096] * 8, "2048x4": [2048] * 4, "1024x8": [1024] * 8,
}
HEADLINE_SEQS = ["1x2048", "1x8192", "1x32768", "8192x4"]


def select(heads_arg, seqs_arg, prog):
    """(head configurations, sequence-set names) from --heads and --seqs."""
    if heads_arg == "all":
        heads = HEADS
    elif heads_arg == "headline":
        heads = HEADLINE_HEADS
    else:
        heads = [tuple(int(x) for x in h.split("x")) for h in heads_arg.split(",")]
    names = list(SEQS) if seqs_arg == "all" else HEADLINE_SEQS if seqs_arg == "headline" else seqs_arg.split(",")
    for n in names:
        if n not in SEQS:
            sys.exit(f"{prog}: unknown sequence set '{n}' (known: {', '.join(SEQS)})")
    return heads, names


def row_name(hq, hv, seqlens):
    return f"{hq}x{hv}/{'+'.join(map(str, seqlens))}"


def load_inputs(qla, hq, hv, seqlens, seed, tmp):
    """The tensors of `qla generate --dist bench` on the GPU, and the folder they came from."""
    import numpy as np
    import torch
    out = pathlib.Path(tmp) / f"{hq}x{hv}_{'-'.join(map(str, seqlens))}"
    if not out.exists():
        subprocess.run([qla, "generate", "--out", str(out), "--seqlens", ",".join(map(str, seqlens)),
                        "--heads", f"{hq}x{hv}", "--dist", "bench", "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)

    def t(name):
        a = np.load(out / f"{name}.npy")
        x = torch.from_numpy(a.view(np.int16) if a.dtype == np.uint16 else a)
        if a.dtype == np.uint16:  # bf16 stored as raw uint16 bits (qla's .npy convention)
            x = x.view(torch.bfloat16)
        return x.cuda()

    q, k, v, g, beta, h0 = (t(n) for n in ("q", "k", "v", "g", "beta", "h0"))
    cu = t("cu_seqlens").long()
    return dict(q=q, k=k, v=v, g=g, beta=beta, h0=h0, cu=cu, dir=out)


def reference_outputs(qla, inputs_dir):
    """o and the final state of qla's naive fp32 recurrence on the same inputs, as float32 GPU tensors."""
    import numpy as np
    import torch
    out = pathlib.Path(str(inputs_dir) + "_naive")
    if not out.exists():
        subprocess.run([qla, "run", "--algorithm", "naive", "--inputs", str(inputs_dir), "--outputs", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
    o = np.load(out / "o.npy")
    o = torch.from_numpy(o.view(np.int16)).view(torch.bfloat16) if o.dtype == np.uint16 else torch.from_numpy(o)
    ht = torch.from_numpy(np.load(out / "ht.npy"))
    return o.float().cuda(), ht.float().cuda()


def errors(o, ht, ref_o, ref_ht):
    """Relative Frobenius errors of o and the final state, and their non-finite element count."""
    import torch

    def rel(x, r):
        x = x.float().reshape(-1)
        r = r.reshape(-1)
        if x.numel() != r.numel():
            return float("inf")
        finite = torch.isfinite(x)
        d = torch.where(finite, x - r, torch.zeros_like(x))
        return float(torch.linalg.vector_norm(d) / torch.linalg.vector_norm(r).clamp_min(1e-30))

    non_finite = int((~torch.isfinite(o.float())).sum() + (~torch.isfinite(ht.float())).sum())
    return dict(o=rel(o, ref_o), final_state=rel(ht, ref_ht), non_finite=non_finite)


def time_graph(fn, replays, budget_ms):
    """Per-call ms of `fn` captured in a CUDA graph: (mean, median, min, max, calls per replay)."""
    import torch
    flush = torch.empty(512 * 1024 * 1024 // 4, dtype=torch.int32, device="cuda")  # > 2x the L2
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5):
        fn()
    end.record()
    torch.cuda.synchronize()
    est = start.elapsed_time(end) / 5
    calls = max(1, min(1000, int(budget_ms / max(est, 1e-3))))
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph, stream=stream):
            for _ in range(calls):
                fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        flush.zero_()
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / calls)
    mean = sum(times) / len(times)
    times.sort()
    return mean, times[len(times) // 2], times[0], times[-1], calls


def write_document(path, doc):
    """Writes a bench document atomically (a temporary file renamed over `path`). The benches call it after
    every measured row, so a run stopped by a time limit keeps every row it finished."""
    tmp = pathlib.Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)
