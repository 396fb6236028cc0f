#!/usr/bin/env python3
"""Merge the bench documents of several device calls into the ones `qla report` reads: results/<gpu>/bench.json
(qla), fla.json and flashqla.json. A call directory holds what `scripts/gpu-session.sh bench` wrote there
(bench_qla.json, bench_fla.json, bench_flashqla.json), for one group of heads; a headline run takes several calls.
Rows of the results already there are kept only for the heads named by --keep-heads (shapes no call measured again)
and the shapes named by --keep-shapes (qla's row names, e.g. 16x64/1x2048: every document's rows of that shape stay,
whatever the calls measured, e.g. headline rows with an FLA column beside calls that ran qla and FlashQLA only);
every other row comes from the calls. A shape two calls measured is refused, unless --first-call-wins: then every
document's rows of that shape come from the first call (in --calls order) that has it, e.g. a headline call of qla,
FLA and FlashQLA before a call of qla and FlashQLA over all sequence sets of the same heads. Each ratio in the report
still compares rows of one call, because every call timed qla, FLA and FlashQLA on its own shapes; an implementation
the calls did not run (QLA_BENCH_ONLY) loses its old rows of the heads they measured, and its file when none stays.
With --set NAME the documents form a comparison set of their own (e.g. under results/<gpu>/NAME/): their rows pair
only with each other in the report, beside the main documents. The method text of each document gets --note appended
(say which calls, which commit, which rows were kept from where); the baselines' documents name the qla commit of the
calls.

    python3 bench/merge_results.py --results results/nvidia-h200 --calls out1 out2 out3 --keep-heads 4x16 \\
        --note "the 20 headline shapes from four device calls ..."
"""
import argparse
import json
import os
import sys
import tempfile

DOCS = {"bench.json": "bench_qla.json", "fla.json": "bench_fla.json", "flashqla.json": "bench_flashqla.json"}


def heads(row):
    return f"{row['h_qk']}x{row['h_v']}"


def row_key(row):
    return (row["name"], row.get("implementation", ""), row.get("mode", ""))


def shape_key(row):
    return (row["name"], row.get("mode", ""))


def sort_key(row):
    return (row["h_v"], row["h_qk"], row["tokens"], len(row["seqlens"]), row.get("implementation", ""),
            row.get("mode", ""))


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("schema") != "qla.bench.v1":
        raise SystemExit(f"merge_results.py: {path} is not a qla.bench.v1 document")
    return doc


def shape_of(row):
    return (heads(row), tuple(row["seqlens"]))


def kept_shapes(results, names):
    """The (heads, sequence lengths) of the qla rows of results/bench.json named `names`; SystemExit for a name it
    does not have."""
    if not names:
        return set()
    path = os.path.join(results, "bench.json")
    rows = load(path).get("rows", []) if os.path.exists(path) else []
    found = {r["name"]: shape_of(r) for r in rows}
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"merge_results.py: --keep-shapes {', '.join(missing)}: no such row in {path}")
    return {found[n] for n in names}


def merge(results, calls, keep_heads, note, first_call_wins=False, keep_shapes=(), comparison_set=""):
    """Returns {file name: merged document} for the documents the calls have; raises SystemExit on conflicts
    (with first_call_wins, a shape several calls measured comes from the first of them instead). With
    comparison_set, every document names that set ("set"): `qla report` pairs its rows only with each other."""
    kept = kept_shapes(results, keep_shapes)
    qla_commit = None
    for call in calls:
        path = os.path.join(call, DOCS["bench.json"])
        if os.path.exists(path):
            qla_commit = qla_commit or load(path).get("versions", {}).get("git_commit")
    # The heads any call measured, in any document: an implementation a call did not run loses its old rows
    # of those heads too, so no ratio pairs one call's qla row with another call's baseline row.
    call_docs = {name: [(call, load(os.path.join(call, source))) for call in calls
                        if os.path.exists(os.path.join(call, source))] for name, source in DOCS.items()}
    measured = {heads(r) for docs in call_docs.values() for _, doc in docs for r in doc.get("rows", [])}
    order = {call: i for i, call in enumerate(calls)}
    owner = {}  # shape -> the first call (in --calls order) that measured it, in any document
    for docs in call_docs.values():
        for call, doc in docs:
            for r in doc.get("rows", []):
                if shape_key(r) not in owner or order[call] < order[owner[shape_key(r)]]:
                    owner[shape_key(r)] = call
    merged = {}
    for name, docs in call_docs.items():
        rows, seen, dates = [], {}, set()  # dates: of the documents that give rows
        for call, doc in docs:
            for row in doc.get("rows", []):
                if shape_of(row) in kept or (first_call_wins and owner[shape_key(row)] != call):
                    continue
                if row_key(row) in seen:
                    raise SystemExit(f"merge_results.py: {name}: {row['name']} is in both {seen[row_key(row)]} "
                                     f"and {call}")
                seen[row_key(row)] = call
                rows.append(row)
                dates.add(doc.get("date", ""))
        old_path = os.path.join(results, name)
        old = load(old_path) if os.path.exists(old_path) else None
        if old:
            before = len(rows)
            rows += [row for row in old.get("rows", []) if shape_of(row) in kept and heads(row) not in keep_heads]
            for row in old.get("rows", []):
                if heads(row) not in keep_heads:
                    continue
                if heads(row) in measured:
                    raise SystemExit(f"merge_results.py: {name}: heads {heads(row)} are to be kept but a call "
                                     "measured them again")
                rows.append(row)
            if len(rows) > before:
                dates.add(old.get("date", ""))
        if not docs:
            if old is None:
                continue
            if not rows:  # nothing of it stays: the file goes
                merged[name] = None
                continue
        out = docs[0][1] if docs else old
        out["rows"] = sorted(rows, key=sort_key)
        if max(dates, default=""):  # the newest measurement in it (`qla report` quotes the newest document's)
            out["date"] = max(dates)
        if note:
            out["method"] = f"{out.get('method', '')}; {note}"
        if name != "bench.json" and qla_commit and docs:
            out.setdefault("versions", {})["qla_git_commit"] = qla_commit
        if comparison_set:
            out["set"] = comparison_set
        merged[name] = out
    return merged


def write(results, merged):
    os.makedirs(results, exist_ok=True)
    for name, doc in merged.items():
        if doc is None:  # no call ran that implementation and none of its old rows stays
            os.remove(os.path.join(results, name))
            continue
        with open(os.path.join(results, name), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")


def self_test():
    def row(h_qk, h_v, tokens, impl=None, ms=1.0):
        r = {"name": f"{h_qk}x{h_v}/{tokens}", "h_qk": h_qk, "h_v": h_v, "tokens": tokens, "seqlens": [tokens],
             "ms": ms}
        if impl:
            r.update(implementation=impl, mode="graph")
        return r

    def doc(rows, commit="new", date="2026-12-01"):
        return {"schema": "qla.bench.v1", "method": "m", "versions": {"git_commit": commit}, "date": date,
                "rows": rows}

    with tempfile.TemporaryDirectory() as tmp:
        def put(path, d):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                json.dump(d, f)

        res, a, b = (os.path.join(tmp, x) for x in ("res", "a", "b"))
        put(os.path.join(res, "bench.json"), doc([row(2, 8, 2048, "qla-tuned", 9), row(4, 16, 2048, "qla-tuned", 7)],
                                                 "old"))
        put(os.path.join(res, "fla.json"), doc([row(2, 8, 2048, ms=9), row(4, 16, 2048, ms=8)]))
        put(os.path.join(a, "bench_qla.json"), doc([row(2, 8, 2048, "qla-tuned", 1), row(2, 8, 2048, "qla-default")]))
        put(os.path.join(a, "bench_fla.json"), doc([row(2, 8, 2048, ms=2)]))
        put(os.path.join(b, "bench_qla.json"), doc([row(16, 64, 2048, "qla-tuned", 3)]))
        put(os.path.join(b, "bench_fla.json"), doc([row(16, 64, 2048, ms=4)]))
        m = merge(res, [a, b], {"4x16"}, "two calls")
        assert sorted(m) == ["bench.json", "fla.json"], sorted(m)
        qla = m["bench.json"]
        assert [(r["name"], r["implementation"], r["ms"]) for r in qla["rows"]] == [
            ("2x8/2048", "qla-default", 1.0), ("2x8/2048", "qla-tuned", 1), ("4x16/2048", "qla-tuned", 7),
            ("16x64/2048", "qla-tuned", 3)], qla["rows"]
        assert qla["method"] == "m; two calls" and qla["versions"]["git_commit"] == "new"
        assert [r["ms"] for r in m["fla.json"]["rows"]] == [2, 8, 4]
        assert m["fla.json"]["versions"]["qla_git_commit"] == "new"
        # Without --keep-heads nothing of the old documents stays.
        assert len(merge(res, [a, b], set(), "")["bench.json"]["rows"]) == 3
        # Heads kept and measured again, or one shape from two calls: refused.
        for calls, keep in (([a, b], {"2x8"}), ([a, a], set())):
            try:
                merge(res, calls, keep, "")
            except SystemExit:
                continue
            raise AssertionError(f"merge of {calls} keeping {keep} was not refused")
        # A call without FLA: FLA's old rows of the heads it measured go, those of kept heads stay, and
        # without kept heads fla.json goes.
        c = os.path.join(tmp, "c")
        put(os.path.join(c, "bench_qla.json"), doc([row(2, 8, 4096, "qla-tuned", 5)]))
        m2 = merge(res, [c], {"4x16"}, "")
        assert [r["name"] for r in m2["fla.json"]["rows"]] == ["4x16/2048"], m2["fla.json"]["rows"]
        assert merge(res, [c], set(), "")["fla.json"] is None
        write(res, m)
        assert load(os.path.join(res, "bench.json"))["rows"] == qla["rows"]
        write(res, merge(res, [c], set(), ""))
        assert not os.path.exists(os.path.join(res, "fla.json"))
        # --first-call-wins: a shape of two calls takes every document's rows from the first; the second call's
        # other shapes stay, and a document the first call has for that shape never pairs with the second's.
        d, e = os.path.join(tmp, "d"), os.path.join(tmp, "e")
        put(os.path.join(d, "bench_qla.json"), doc([row(2, 8, 2048, "qla-tuned", 1)]))
        put(os.path.join(d, "bench_fla.json"), doc([row(2, 8, 2048, ms=2)]))
        put(os.path.join(d, "bench_flashqla.json"), doc([row(2, 8, 2048, ms=3)]))
        put(os.path.join(e, "bench_qla.json"),
            doc([row(2, 8, 2048, "qla-tuned", 10), row(2, 8, 4096, "qla-tuned", 5)]))
        put(os.path.join(e, "bench_flashqla.json"), doc([row(2, 8, 2048, ms=30), row(2, 8, 4096, ms=6)]))
        m3 = merge(res, [d, e], set(), "", first_call_wins=True)
        assert [(r["name"], r["ms"]) for r in m3["bench.json"]["rows"]] == [("2x8/2048", 1), ("2x8/4096", 5)]
        assert [(r["name"], r["ms"]) for r in m3["flashqla.json"]["rows"]] == [("2x8/2048", 3), ("2x8/4096", 6)]
        assert [r["ms"] for r in m3["fla.json"]["rows"]] == [2]
        try:
            merge(res, [d, e], set(), "")
        except SystemExit:
            pass
        else:
            raise AssertionError("a shape of two calls was merged without --first-call-wins")
        # --keep-shapes: the old rows of a named shape stay in every document, the calls' rows of it go; the
        # calls' other shapes of the same heads come in; a name results/bench.json lacks is refused.
        f = os.path.join(tmp, "f")
        write(res, {"bench.json": doc([row(16, 64, 2048, "qla-tuned", 9), row(16, 64, 4096, "qla-tuned", 8)],
                                      date="2026-11-30"),
                    "fla.json": doc([row(16, 64, 2048, ms=20)], date="2026-11-30")})
        put(os.path.join(f, "bench_qla.json"),
            doc([row(16, 64, 2048, "qla-tuned", 1), row(16, 64, 4096, "qla-tuned", 2)]))
        put(os.path.join(f, "bench_flashqla.json"), doc([row(16, 64, 2048, ms=3), row(16, 64, 4096, ms=4)]))
        m4 = merge(res, [f], set(), "", keep_shapes=["16x64/2048"])
        assert m4["bench.json"]["date"] == "2026-12-01" and m4["fla.json"]["date"] == "2026-11-30", m4
        assert [(r["name"], r["ms"]) for r in m4["bench.json"]["rows"]] == [("16x64/2048", 9), ("16x64/4096", 2)]
        assert [(r["name"], r["ms"]) for r in m4["fla.json"]["rows"]] == [("16x64/2048", 20)]
        assert [(r["name"], r["ms"]) for r in m4["flashqla.json"]["rows"]] == [("16x64/4096", 4)]
        try:
            merge(res, [f], set(), "", keep_shapes=["16x64/1"])
        except SystemExit:
            pass
        else:
            raise AssertionError("--keep-shapes of a row results/bench.json lacks was not refused")
        # --set: every merged document names the comparison set.
        m5 = merge(os.path.join(tmp, "set"), [a, b], set(), "", comparison_set="matrix-fla")
        assert sorted(m5) == ["bench.json", "fla.json"] and all(d["set"] == "matrix-fla" for d in m5.values())
        assert "set" not in m4["bench.json"]
    print("merge_results.py: self-test passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", help="the card's results folder, e.g. results/nvidia-h200")
    ap.add_argument("--calls", nargs="+", default=[], help="folders of the calls' bench_*.json")
    ap.add_argument("--keep-heads", default="", help="comma list of QKxV heads whose rows stay, e.g. 4x16")
    ap.add_argument("--keep-shapes", default="",
                    help="comma list of qla row names whose shapes keep their rows in every document, e.g. "
                         "16x64/1x2048,16x64/8192x4")
    ap.add_argument("--note", default="", help="appended to each document's method")
    ap.add_argument("--first-call-wins", action="store_true",
                    help="a shape several calls measured comes from the first of them (every document's rows)")
    ap.add_argument("--set", default="", help="the comparison set every merged document names (`qla report` "
                    "pairs a set's rows only with each other), e.g. matrix-fla beside the main documents")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    if not args.results or not args.calls:
        ap.error("--results and --calls are required")
    merged = merge(args.results, args.calls, {h for h in args.keep_heads.split(",") if h}, args.note,
                   args.first_call_wins, [n for n in args.keep_shapes.split(",") if n], args.set)
    if not merged:
        raise SystemExit("merge_results.py: no bench_*.json in " + " ".join(args.calls))
    write(args.results, merged)
    for name, doc in merged.items():
        print(f"{os.path.join(args.results, name)}: {len(doc['rows'])} rows")


if __name__ == "__main__":
    sys.exit(main())
