#!/usr/bin/env python3
"""Profiles of two or more builds side by side: every chunk step that `qla_chunk_step_profile` printed, every
step of `qla_cp_correct_profile` and every call of `qla_kkt_solve_profile`, one row per config of the first build,
one column per build (as `scripts/gpu-session.sh profile-ab` writes them: a first line naming the build, then the
profilers' output). Rows are matched by name (and, for a name printed more than once, by occurrence); a row a build
lacks shows "–", and rows only later builds have follow the first build's.

    python3 bench/profile_ab_table.py out/profile_A.txt out/profile_B.txt
    python3 bench/profile_ab_table.py --phases out/profile_A.txt out/profile_B.txt

With --phases: for every chunk-step profile, each build's cycles a chunk per phase of the state and aux warpgroups
(the phase names may differ between builds, so each build's own names are printed).
"""
import argparse
import re
import sys

STEP = re.compile(r"chunk step ([0-9.]+) us")
CP_STEP = re.compile(r"([0-9.]+) us per step")
KKT_HEADER = re.compile(r"^kkt_solve, (\S+) heads, (\S+) tokens")
KKT_CALL = re.compile(r"^(c\d+\.\S+)\s+\d+ CTAs\s+([0-9.]+) us per call$")


def rows_of(lines):
    """(name, µs) of every profiled config, in the profiler's order."""
    rows = []
    kkt_shape = ""
    for line in lines:
        m = KKT_HEADER.match(line)
        if m:
            kkt_shape = f"{m.group(1)} {m.group(2)}"
            continue
        m = KKT_CALL.match(line.strip())
        if m and kkt_shape:
            rows.append((f"kkt_solve {kkt_shape} {m.group(1)} (per call)", m.group(2)))
            continue
        m = STEP.search(line)
        if m:
            rows.append((line.split("  kernel")[0].strip(), m.group(1)))
            continue
        m = CP_STEP.search(line)
        if m:
            rows.append(("cp_correct " + line.split()[0], m.group(1)))
    return rows


def phases_of(lines):
    """{profile name: {role: "phase cycles · ... = total"}} of every chunk-step profile's state and aux rows."""
    out = {}
    name = None
    for line in lines:
        if STEP.search(line):
            name = line.split("  kernel")[0].strip()
            out[name] = {}
            continue
        words = line.split()
        if name is None or not line.startswith("  ") or not words or words[0] not in ("state", "aux"):
            if line.strip() and not line.startswith("  "):
                name = None
            continue
        body, _, total = line.strip()[len(words[0]):].partition("| total")
        # The profiler prints each phase as two spaces, its name (which may hold digits) and its cycles.
        text = " · ".join(seg.strip() for seg in re.split(r"\s{2,}", body.strip()) if seg.strip())
        out[name][words[0]] = f"{text} = {total.split()[0]}" if total.strip() else text
    return out


def phase_table(texts):
    """The Markdown table of the builds' phases: one row per (chunk-step profile, build), the first build's
    profiles first."""
    runs = [phases_of(t.splitlines()) for t in texts]
    out = ["| profile | build | state (cycles a chunk) | aux (cycles a chunk) |", "|---|---|---|---|"]
    for name in dict.fromkeys(n for r in runs for n in r):
        for i, r in enumerate(runs):
            roles = r.get(name, {})
            out.append(f"| {name} | {chr(65 + i)} | {roles.get('state', '–')} | {roles.get('aux', '–')} |")
    return "\n".join(out)


def keyed(rows):
    """{(name, k): µs} of a build's rows, k counting earlier rows of the same name (a config profiled at two
    shapes under one name, as cp_correct's at 16 and 32 pieces)."""
    seen, out = {}, {}
    for name, us in rows:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out[(name, k)] = us
    return out


def table(texts):
    """The Markdown table of the builds' profiles: their first lines, then one row per config, matched by name
    (and occurrence), so a row only some builds have leaves the others aligned."""
    runs = [t.splitlines() for t in texts]
    rows = [rows_of(r) for r in runs]
    builds = [keyed(r) for r in rows]
    out = [r[0] if r else "(empty)" for r in runs] + [""]
    out.append("| profile | " + " | ".join(f"{chr(65 + i)} µs" for i in range(len(runs))) + " |")
    out.append("|---|" + "---|" * len(runs))
    keys = list(dict.fromkeys(k for b in builds for k in b))  # the first build's order, then new ones
    for key in keys:
        out.append(f"| {key[0]} | " + " | ".join(b.get(key, "–") for b in builds) + " |")
    return "\n".join(out)


def self_test():
    a = """A: before (qla a59b37b)

16/64 1x32768  forward pass  stages 2  bf16 operands  128 CTAs (1 wave)  kernel 0.979 ms  chunk step 1.91 us
  state      wait inputs 249  U 767  O1+W 790  S(+O2) 547  | total 3323 cycles/chunk
cp_correct, 8 value heads, one sequence of 32 pieces
bv8.ms1.sk4.rt1  128 CTAs  96.6 us per call, 3.02 us per step
  warp 0     head 2114  wait 77  multiply 3189  combine 361  = 5740 cycles per step (2.90 us at 1980 MHz)
kkt_solve, 16/64 heads, 1x32768 tokens
c64.b16.w4.vh0.cs1  8192 CTAs  310.7 us per call
  warp 0     prologue 9119  start 267  local 2345  (cycles; per CTA for the prologue, per value head otherwise)"""
    b = """B: after (qla 32672c2)
16/64 1x32768  forward pass  stages 2  bf16 operands  128 CTAs (1 wave)  kernel 0.861 ms  chunk step 1.68 us"""
    t = table([a, b]).splitlines()
    assert t[:2] == ["A: before (qla a59b37b)", "B: after (qla 32672c2)"], t
    assert t[3] == "| profile | A µs | B µs |", t
    assert t[5] == ("| 16/64 1x32768  forward pass  stages 2  bf16 operands  128 CTAs (1 wave) | 1.91 | 1.68 |"), t
    assert t[6] == "| cp_correct bv8.ms1.sk4.rt1 | 3.02 | – |", t  # "cycles per step" lines are not steps
    assert t[7] == "| kkt_solve 16/64 1x32768 c64.b16.w4.vh0.cs1 (per call) | 310.7 | – |", t
    assert len(t) == 8, t
    # A row only the first build has (here a state-pass profile) leaves the later rows aligned, and a name
    # printed twice (cp_correct at 16 and at 32 pieces) is matched by occurrence.
    c = a.replace("cp_correct, 8", "16/64 1x32768  state pass  stages 3  fp16 operands  128 CTAs (1 wave)  kernel "
                  "0.7 ms  chunk step 1.40 us\ncp_correct, 8")
    cp16 = "\ncp_correct, 8 value heads, one sequence of 16 pieces\nbv8.ms1.sk4.rt1  128 CTAs  48 us per call, "
    c += cp16 + "3.10 us per step"
    d = a + cp16 + "3.20 us per step"
    u = table([c, d]).splitlines()
    assert u[6] == "| 16/64 1x32768  state pass  stages 3  fp16 operands  128 CTAs (1 wave) | 1.40 | – |", u
    assert u[7] == "| cp_correct bv8.ms1.sk4.rt1 | 3.02 | 3.02 |", u
    assert u[8] == "| kkt_solve 16/64 1x32768 c64.b16.w4.vh0.cs1 (per call) | 310.7 | 310.7 |", u
    assert u[9] == "| cp_correct bv8.ms1.sk4.rt1 | 3.10 | 3.20 |", u
    assert len(u) == 10, u
    v = table([d, c]).splitlines()  # the row only the second build has comes last
    assert v[9] == "| 16/64 1x32768  state pass  stages 3  fp16 operands  128 CTAs (1 wave) | – | 1.40 |", v
    assert len(v) == 10, v
    p = phase_table([a, b]).splitlines()
    assert p[2] == ("| 16/64 1x32768  forward pass  stages 2  bf16 operands  128 CTAs (1 wave) | A | "
                    "wait inputs 249 · U 767 · O1+W 790 · S(+O2) 547 = 3323 | – |"), p
    assert p[3].endswith("| B | – | – |"), p  # a build without phase rows
    assert len(p) == 4, p  # the cp_correct and kkt_solve profiles have no chunk-step phases
    print("profile_ab_table self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profiles", nargs="*", help="one profile text per build")
    ap.add_argument("--phases", action="store_true", help="the state and aux warpgroups' phases instead")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return 0
    if not args.profiles:
        ap.error("give the profiles of the builds to compare")
    texts = []
    for path in args.profiles:
        with open(path) as f:
            texts.append(f.read())
    print(phase_table(texts) if args.phases else table(texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
