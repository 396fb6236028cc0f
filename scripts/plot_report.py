#!/usr/bin/env python3
"""PNG plots for `qla report`: speedup over FlashQLA and FLA per head configuration against tokens, and a roofline-style
plot of every shape. Reads the digest JSON the report writes; the Markdown tables never depend on this."""
import json
import sys

try:
    import matplotlib
except ImportError:
    print("plot_report.py: python3 has no matplotlib; no plots", file=sys.stderr)
    sys.exit(3)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(digest_path, out_dir):
    d = json.load(open(digest_path))
    slug = digest_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    rows = [r for r in d["rows"] if r["mode"] == "graph"]
    by_shape = {}
    for r in rows:
        by_shape.setdefault((r["h_qk"], r["h_v"], r["seq_name"], r["tokens"]), {})[r["impl"]] = r
    # One panel per baseline present (FlashQLA first: the one to beat), speedup against tokens per head
    # configuration for single sequences.
    baselines = [(b, label) for b, label in (("flashqla", "FlashQLA"), ("fla", "FLA"))
                 if any(b in impls for impls in by_shape.values())]
    fig, axes = plt.subplots(1, max(len(baselines), 1), figsize=(7 * max(len(baselines), 1), 4.5), squeeze=False)
    heads = sorted({(k[0], k[1]) for k in by_shape})
    for ax, (base, label) in zip(axes[0], baselines):
        for h in heads:
            pts = []
            for (hq, hv, name, tokens), impls in sorted(by_shape.items(), key=lambda kv: kv[0][3]):
                ours = impls.get("qla-tuned") or impls.get("qla-default")
                if (hq, hv) == h and ours and base in impls and name.startswith("1x"):
                    pts.append((tokens, impls[base]["ms"] / ours["ms"]))
            if pts:
                ax.plot(*zip(*pts), marker="o", color=f"C{heads.index(h)}", label=f"{h[0]}/{h[1]}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tokens (one sequence)")
        ax.set_ylabel(f"speedup over {label}")
        ax.set_title(f"{d['gpu']}: qla forward vs {label} (CUDA-graph mode)")
        ax.legend(title="heads qk/v")
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{slug}_speedup.png", dpi=110)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for impl, marker in (("qla-tuned", "o"), ("qla-default", "s"), ("flashqla", "D"), ("fla", "^"), ("unfused", "v"),
                         ("naive", "x")):
        pts = [(r["flops"] / r["bytes"], r["flops"] / (r["ms"] * 1e-3) / 1e12) for r in rows if r["impl"] == impl]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=impl)
    if d.get("copy_gbps") and d.get("matmul_tflops"):
        import numpy as np
        x = np.logspace(0, 4, 100)
        ax.plot(x, np.minimum(d["matmul_tflops"], x * d["copy_gbps"] / 1e3), color="grey", lw=1, label="ceilings")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOP per compulsory byte")
    ax.set_ylabel("TFLOP/s (fused-forward FLOPs / time)")
    ax.set_title(f"{d['gpu']}: every shape against the card's measured ceilings")
    ax.legend()
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{slug}_roofline.png", dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
