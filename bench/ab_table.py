#!/usr/bin/env python3
"""Side-by-side table of several qla.bench.v1 documents of the same shapes: one per variant of an A/B (for example
`bench_gdn_fwd --config gdn.cp_correct=bv8.ms1.sk4.rt1` against `...sk1.rt4`, or `--pdl true` against `--pdl false`), each
row a (shape, implementation, mode) with every document's time, the ratio of each to the first, and where --kernel
names one, that kernel's time per call from the rows' CUPTI per-kernel times.

    python3 bench/ab_table.py A.json B.json [--kernel cp_correct] [--labels ms0,ms1]
"""
import argparse
import json
import math
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("schema") != "qla.bench.v1":
        raise SystemExit(f"ab_table.py: {path} is not a qla.bench.v1 document")
    return {(r["name"], r["implementation"], r["mode"]): r for r in doc.get("rows", [])}


def kernel_us(row, kernel):
    """The summed per-call time of the row's kernels whose name contains `kernel` (None when it has none)."""
    hits = [k["us"] for k in row.get("kernels", []) if kernel in k["name"]]
    return sum(hits) if hits else None


def table(docs, labels, kernel=None):
    """Markdown lines: the rows every document has, in the first document's order, and a geomean line."""
    head = ["shape", "impl", "mode"] + [f"{lab} ms" for lab in labels]
    head += [f"{lab}/{labels[0]}" for lab in labels[1:]]
    if kernel:
        head += [f"{lab} {kernel} µs" for lab in labels]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    logs = [[] for _ in labels[1:]]
    for key in docs[0]:
        if not all(key in d for d in docs):
            continue
        rows = [d[key] for d in docs]
        cells = list(key) + [f"{r['ms']:.4f}" for r in rows]
        for i, r in enumerate(rows[1:]):
            ratio = r["ms"] / rows[0]["ms"]
            logs[i].append(math.log(ratio))
            cells.append(f"{ratio:.3f}x")
        if kernel:
            for r in rows:
                us = kernel_us(r, kernel)
                cells.append("-" if us is None else f"{us:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    if logs and logs[0]:
        geo = ", ".join(f"{lab}/{labels[0]} {math.exp(sum(lg) / len(lg)):.3f}x"
                        for lab, lg in zip(labels[1:], logs))
        lines.append(f"\ngeomean over {len(logs[0])} rows: {geo}")
    return lines


def self_test():
    def doc(ms, us):
        return {("2x8/1x8192", "qla-default", "graph"): {
            "ms": ms, "kernels": [{"name": "cp_correct_states_kernel", "us": us},
                                  {"name": "fused_fwd_wgmma_kernel", "us": 100.0}]},
                ("2x8/1x2048", "qla-default", "graph"): {"ms": 0.1}}
    a, b = doc(0.5, 133.0), doc(0.4, 30.0)
    del b[("2x8/1x2048", "qla-default", "graph")]  # rows one document lacks are left out
    out = table([a, b], ["ms0", "ms1"], "cp_correct")
    assert out[2] == "| 2x8/1x8192 | qla-default | graph | 0.5000 | 0.4000 | 0.800x | 133.0 | 30.0 |", out[2]
    assert len(out) == 4 and out[3].endswith("ms1/ms0 0.800x"), out
    assert kernel_us({"kernels": []}, "x") is None
    print("ab_table.py: self-test passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("docs", nargs="*", help="qla.bench.v1 documents, the first is the baseline")
    ap.add_argument("--labels", help="comma list, one per document (default A, B, ...)")
    ap.add_argument("--kernel", help="also each row's time in kernels whose name contains this")
    ap.add_argument("--self-test", action="store_true", help="check the table on built-in rows")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if len(a.docs) < 2:
        ap.error("give at least two documents")
    labels = a.labels.split(",") if a.labels else [chr(ord("A") + i) for i in range(len(a.docs))]
    if len(labels) != len(a.docs):
        ap.error("--labels: one per document")
    print("\n".join(table([load(p) for p in a.docs], labels, a.kernel)))


if __name__ == "__main__":
    sys.exit(main())
