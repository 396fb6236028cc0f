"""CPU checks of what the baseline benches share (bench/baseline_common.py) and of their command lines, without
torch, FLA or FlashQLA: the shape selection, the atomic document write that keeps a time-limited run's rows, FLA's
Triton cache kept across runs (--cache-dir), and `--help` of both benches."""
import json
import pathlib
import subprocess
import sys
import tempfile
import unittest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import baseline_common as common  # noqa: E402
import fla_bench  # noqa: E402


class BaselineCommon(unittest.TestCase):
    def test_headline_selection(self):
        heads, names = common.select("headline", "headline", "test")
        self.assertEqual(heads, common.HEADLINE_HEADS)
        self.assertEqual(names, common.HEADLINE_SEQS)

    def test_row_names_match_the_report(self):
        self.assertEqual(common.row_name(2, 8, [8192]), "2x8/8192")
        self.assertEqual(common.row_name(16, 64, [8192] * 4), "16x64/8192+8192+8192+8192")

    def test_write_document_replaces_atomically(self):
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "fla.json"
            common.write_document(path, {"rows": [1]})
            common.write_document(path, {"rows": [1, 2]})
            self.assertEqual(json.loads(path.read_text())["rows"], [1, 2])
            self.assertEqual(sorted(p.name for p in pathlib.Path(d).iterdir()), ["fla.json"])

    def test_fla_cache_per_head_configuration_and_order(self):
        self.assertEqual(fla_bench.triton_cache("", 2, 8, "warm2048"), (None, False))
        with tempfile.TemporaryDirectory() as d:
            path, cached = fla_bench.triton_cache(d, 2, 8, "warm2048")
            self.assertEqual(path, pathlib.Path(d) / "2x8-warm2048")
            self.assertTrue(path.is_dir())
            self.assertFalse(cached)  # an empty cache: FLA tunes afresh
            (path / "0a1b").mkdir()
            (path / "0a1b" / "chunk_fwd_kernel_o.autotune.json").write_text("{}")
            self.assertEqual(fla_bench.triton_cache(d, 2, 8, "warm2048"), (path, True))
            self.assertFalse(fla_bench.triton_cache(d, 4, 16, "warm2048")[1])  # another head configuration

    def test_help_needs_no_gpu_packages(self):
        for script in ("fla_bench.py", "flashqla_bench.py"):
            r = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("--heads", r.stdout)


if __name__ == "__main__":
    unittest.main()
