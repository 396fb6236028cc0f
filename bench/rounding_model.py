#!/usr/bin/env python3
"""Where the wgmma chunk forward's error comes from: a float64 model of its per-chunk math with the
GEMM operands rounded where the kernel rounds them, against the same math without rounding.

The kernel (kernels/device/gdn/fused_fwd_wgmma.cuh) keeps the state S (K x V) in fp32 and rounds to
the operand type T (bf16, or fp16 with f1) what enters a GEMM: A_r (stored in the input dtype),
A_g = G * A_r * beta, P_g = scale * G * (Q K^T), S where it enters U = K S and O1 = Q S, W = V - e^g U,
V_d where it enters O2 = P_g V_d, and V_d * Gamma where it enters the state update; o is stored in
bf16. With f2 the products of intermediates only (V_d = A_g W and O2 = P_g V_d) take fp16 operands:
A_g, P_g, W and V_d into O2 round to fp16, S and V_d * Gamma (beside the bf16 K) to bf16. The
reference is the same chunk math in float64 (A_r inverted exactly), which equals the
token recurrence the GPU tests compare with. A mode names T and the operands split into hi + lo
(16 bits of mantissa for bf16; +Ar: A_r kept in fp32), so the effect of a split can be estimated
before it is written as wgmma passes:

    python3 bench/rounding_model.py --tokens 16384 --modes f0,f1,f2,f0+S,f0+Ag,f0+S+W+Vd+Ag

Inputs follow the GPU test (tests/kernels/forward_test.cpp, WgmmaVariantOnLongSequencesMatches-
Reference): unit q and k, normal v (all bf16), sigmoid beta, one zero-gate head, two soft ones and a
strong decay, a normal h0. Needs numpy (Debian: python3-numpy).
"""
import argparse
import sys

import numpy as np

C, D = 64, 128
SPLITS = ("S", "W", "Vd", "Ag", "Ar")


def bf16(x):
    """Round to bfloat16 (nearest even), returned as float64."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return u.view(np.float32).astype(np.float64)


def fp16(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float64)


def exact(x):
    return np.asarray(x, np.float64)


def parse_mode(name):
    """'f0' (bf16), 'f1' (fp16), 'f2' (bf16, fp16 for the products of intermediates) or 'exact',
    then '+NAME' for each operand split into hi + lo (+Ar: A_r stored in fp32 instead of the input
    dtype). Returns the rounding of the operands beside inputs, of the intermediates' products, and
    the splits."""
    base, *split = name.split("+")
    r = {"f0": (bf16, bf16), "f1": (fp16, fp16), "f2": (bf16, fp16),
         "exact": (exact, exact)}.get(base)
    if r is None or any(s not in SPLITS for s in split):
        raise ValueError(f"mode '{name}': f0, f1, f2 or exact, then +S, +W, +Vd, +Ag, +Ar")
    return r[0], r[1], set(split)


def inputs(rng, tokens, head, heads):
    def rows(unit):
        x = rng.standard_normal((tokens, D))
        if unit:
            x /= np.sqrt((x * x).sum(1, keepdims=True) + 1e-6)
        return bf16(x)

    q, k, v = rows(True), rows(True), rows(False)
    beta = 1 / (1 + np.exp(-rng.standard_normal(tokens)))
    x = rng.standard_normal(tokens)
    logsig = -np.log1p(np.exp(-x))
    g = [np.zeros(tokens), logsig / 16, logsig / 160,
         -16.0 * np.log1p(np.exp(0.5 * x + 1.0)) * (head - 2) / max(heads - 3, 1)][min(head, 3)]
    h0 = rng.standard_normal((D, D))
    return q, k, v, beta.astype(np.float32), g.astype(np.float32).astype(np.float64), h0


def forward(q, k, v, beta, g, h0, r, rm, split):
    """The chunk forward of one head with operand rounding r (rm for the operands of the products
    of intermediates); returns (final state, o)."""
    def operand(name, x, rnd=r):
        hi = rnd(x)
        return hi + rnd(x - hi) if name in split else hi

    scale = 1 / np.sqrt(D)
    s, o = h0.copy(), np.zeros_like(v)
    for c0 in range(0, len(k) - C + 1, C):
        sl = slice(c0, c0 + C)
        qc, kc, vc, b, gc = q[sl], k[sl], v[sl], beta[sl], np.cumsum(g[sl])
        a_r = np.linalg.inv(np.eye(C) + np.tril(b[:, None] * (kc @ kc.T), -1))
        if r is not exact and "Ar" not in split:
            a_r = bf16(a_r)  # stored in the input dtype by kkt_solve
        with np.errstate(over="ignore", invalid="ignore"):
            decay = np.where(np.tri(C) > 0, np.exp(np.minimum(gc[:, None] - gc[None, :], 80)), 0)
        a_g = operand("Ag", decay * a_r * b[None, :], rm)
        p_g = rm(scale * decay * (qc @ kc.T))
        s_op = operand("S", s)
        u = kc @ s_op
        o1 = (qc @ r(s)) * (scale * np.exp(gc))[:, None]  # O1 takes hi only
        w = operand("W", vc - u * np.exp(gc)[:, None], rm)
        v_d = a_g @ w
        gl = gc[-1]
        s = s * np.exp(gl) + kc.T @ operand("Vd", v_d * np.exp(gl - gc)[:, None])
        o[sl] = o1 + p_g @ operand("Vd", v_d, rm)
        if r is not exact:
            o[sl] = bf16(o[sl])  # o is a bf16 tensor
    return s, o


def errors(tokens, heads, seed, modes):
    """Relative Frobenius error of the final states and of o, per mode, against 'exact'."""
    rng = np.random.default_rng(seed)
    sums = {m: [0.0, 0.0] for m in modes}
    norms = [0.0, 0.0]
    for head in range(heads):
        data = inputs(rng, tokens, head, heads)
        ref = forward(*data, exact, exact, set())
        for i in range(2):
            norms[i] += (ref[i] ** 2).sum()
        for m in modes:
            got = forward(*data, *parse_mode(m))
            for i in range(2):
                sums[m][i] += ((got[i] - ref[i]) ** 2).sum()
    return {m: (np.sqrt(sums[m][0] / norms[0]), np.sqrt(sums[m][1] / norms[1])) for m in modes}


def self_test():
    """Invariants on a small problem: no rounding, no error; fp16 beats bf16, and fp16 for the
    intermediates' products lies between them; splitting every rounded operand of the recurrence
    beats plain bf16."""
    e = errors(512, 4, 3, ["exact", "f0", "f1", "f2", "f0+S+W+Vd+Ag+Ar"])
    ok = (e["exact"] == (0.0, 0.0) and e["f1"][0] < e["f0"][0] and e["f1"][1] < e["f0"][1]
          and all(e["f1"][i] < e["f2"][i] < e["f0"][i] for i in range(2))
          and e["f0+S+W+Vd+Ag+Ar"][0] < e["f0"][0] / 10)
    for m, (ht, o) in e.items():
        print(f"{m:14s} ht {ht:.3e}  o {o:.3e}")
    print("self-test", "passed" if ok else "FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=16384, help="tokens of the one sequence")
    ap.add_argument("--heads", type=int, default=4, help="value heads (gates as in the GPU test)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--modes", default="f0,f1,f2,f0+S,f0+Ag,f0+W,f0+Vd,f0+S+W+Vd+Ag",
                    help="comma list: f0, f1, f2 or exact, each with +S, +W, +Vd, +Ag, +Ar splits")
    ap.add_argument("--self-test", action="store_true", help="check the model's invariants")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if a.tokens < C or a.heads < 1:
        ap.error(f"--tokens must be at least {C} and --heads at least 1")
    try:
        modes = a.modes.split(",")
        for m in modes:
            parse_mode(m)
    except ValueError as e:
        ap.error(str(e))
    for m, (ht, o) in errors(a.tokens, a.heads, a.seed, modes).items():
        print(f"{m:14s} ht {ht:.3e}  o {o:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
