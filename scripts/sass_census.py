#!/usr/bin/env python3
"""Instruction census of the SASS that `nvdisasm -c -g CUBIN` prints: per kernel, the instruction count, the
opcodes most used, the memory and tensor instructions (LDS, STS, LDSM, LDG, STG, LDL/STL spills, HMMA, HGMMA) and
the source lines that hold the most instructions (with a cubin built by `qla cache cubin --lineinfo`).
Static counts: an instruction in a loop counts once.

    nvdisasm -c -g kernel.cubin | scripts/sass_census.py [--lines 25] [--opcodes 20]
    scripts/sass_census.py --self-test
"""
import argparse
import collections
import re
import sys

_SECTION = re.compile(r"^\s*\.section\s+\.text\.([^,\s]+)")
_LINE = re.compile(r'//## File "([^"]+)", line (\d+)')
_INSN = re.compile(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_]*)")
# Instructions worth a column of their own: shared, global and local (spill) memory, tensor cores, calls.
_WATCH = ("LDS", "STS", "LDSM", "STSM", "LDG", "STG", "LDGSTS", "LDL", "STL", "HMMA", "HGMMA", "CALL")


class Kernel:
    def __init__(self, name):
        self.name = name
        self.opcodes = collections.Counter()
        self.lines = collections.Counter()
        self.line_opcodes = collections.defaultdict(collections.Counter)

    @property
    def total(self):
        return sum(self.opcodes.values())


def parse(text):
    """The kernels of nvdisasm's listing, in order, each with its opcode and source-line counts."""
    kernels, kernel, where = [], None, None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            kernel = Kernel(m.group(1))
            kernels.append(kernel)
            where = None
            continue
        m = _LINE.search(line)
        if m:
            where = (m.group(1).rsplit("/", 1)[-1], int(m.group(2)))
            continue
        m = _INSN.search(line)
        if m and kernel is not None:
            op = m.group(1)
            kernel.opcodes[op] += 1
            if where is not None:
                kernel.lines[where] += 1
                kernel.line_opcodes[where][op] += 1
    return kernels


def report(kernels, top_lines, top_opcodes, out):
    if not kernels:
        out.write("no kernel in the listing (pass nvdisasm -c output)\n")
        return
    for k in kernels:
        out.write(f"{k.name}: {k.total} instructions\n")
        out.write("  " + "  ".join(f"{op} {k.opcodes[op]}" for op in _WATCH) + "\n")
        out.write("  most used: " + ", ".join(f"{op} {n}" for op, n in k.opcodes.most_common(top_opcodes)) + "\n")
        if k.lines:
            out.write(f"  source lines holding the most instructions (of {len(k.lines)}):\n")
            for (path, line), n in k.lines.most_common(top_lines):
                mix = ", ".join(f"{op} {c}" for op, c in k.line_opcodes[(path, line)].most_common(4))
                out.write(f"    {n:6d}  {path}:{line}  ({mix})\n")
        else:
            out.write("  no line table (build the cubin with `qla cache cubin --lineinfo`)\n")


_SAMPLE = """
	.section	.text._Z4demoPf,"ax",@progbits
	//## File "gdn/demo.cuh", line 10
        /*0000*/                   LDS R1, [R2] ;
        /*0010*/              @!P0 FFMA R3, R1, R1, R3 ;
	//## File "gdn/demo.cuh", line 12
        /*0020*/                   HMMA.16816.F32 R4, R8, R12, R4 ;
        /*0030*/                   HMMA.16816.F32 R4, R8, R12, R4 ;
        /*0040*/                   STL [R1], R3 ;
	.section	.text._Z5otherv,"ax",@progbits
        /*0000*/                   EXIT ;
"""


def self_test():
    ks = parse(_SAMPLE)
    assert [k.name for k in ks] == ["_Z4demoPf", "_Z5otherv"], [k.name for k in ks]
    demo = ks[0]
    assert demo.total == 5 and demo.opcodes["HMMA"] == 2 and demo.opcodes["FFMA"] == 1, demo.opcodes
    assert demo.lines[("demo.cuh", 10)] == 2 and demo.lines[("demo.cuh", 12)] == 3, demo.lines
    assert ks[1].total == 1 and not ks[1].lines
    out = []

    class Sink:
        def write(self, s):
            out.append(s)

    report(ks, 5, 5, Sink())
    text = "".join(out)
    assert "STL 1" in text and "demo.cuh:12" in text and "no line table" in text, text
    print("sass_census self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("listing", nargs="?", help="nvdisasm -c -g output (default: standard input)")
    ap.add_argument("--lines", type=int, default=25, help="source lines to list per kernel")
    ap.add_argument("--opcodes", type=int, default=20, help="opcodes to list per kernel")
    ap.add_argument("--self-test", action="store_true", help="check the parser on a built-in listing")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    text = open(a.listing).read() if a.listing else sys.stdin.read()
    report(parse(text), a.lines, a.opcodes, sys.stdout)


if __name__ == "__main__":
    main()
