// bench_gdn_fwd: Google Benchmark over FlashQLA's forward benchmark matrix for qla's tuned and
// default fused forward and the in-project baselines (unfused, naive), in FlashQLA's CUDA-graph
// mode and in cold mode, with manual time from the tuner's measurement core. Besides Google
// Benchmark's own output it writes one "qla.bench.v1" document (what `qla report` reads) to
// --qla_out.
//
//   bench_gdn_fwd [--heads headline|all|2x8,...] [--seqs headline|all|1x8192,...] [--db STORE]
//                 [--impls qla-tuned,qla-default,unfused,naive] [--modes graph,cold] [--qla_out
//                 FILE]
//                 [--benchmark_* flags]
//
// Exit codes: 0 done (rows that could not run are listed under "skipped"), 1 no GPU or a CUDA
// failure, 2 bad flags or an unreadable store.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_document.hpp"
#include "card_ceilings.hpp"
#include "gdn_fwd_runner.hpp"
#include "qla/error.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/io/generate.hpp"
#include "qla/tuner/fingerprint.hpp"
#include "qla/tuner/shape_matrix.hpp"
#include "report/report.hpp"

#ifndef QLA_VERSION_TEXT
#define QLA_VERSION_TEXT "unknown"
#endif
#ifndef QLA_GIT_COMMIT
#define QLA_GIT_COMMIT ""
#endif

namespace {

using namespace qla::bench;

constexpr const char* kProgram = "bench_gdn_fwd";

struct Flags {
  std::string heads = "headline";
  std::string seqs = "headline";
  std::string impls = "qla-tuned,qla-default,unfused,naive";
  std::string modes = "graph,cold";
  std::string db;
  std::string qla_out;
  int device = 0;
  std::uint64_t seed = 42;
  std::string distribution = "bench";
  double tolerance = 0.005;
  double max_seconds = 2.0;
  double rep_ms = 100;
  int replays = 10;
  bool pdl = true;
  std::string pdl_cp = "none";
  std::string lists = "build";
  std::vector<std::string> configs;
};

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("--heads", f.heads, "Head configurations: headline, all, or HxV list (2x8,16x64)");
  app.add_option("--seqs", f.seqs,
                 "Sequence sets: headline, all, or names (1x8192,8192x4,4096+4096)");
  app.add_option("--impls", f.impls,
                 "Implementations: qla-tuned,qla-default,unfused,naive, or qla:<chunk-forward "
                 "family> (qla:gdn.fused_fwd_wgmma: that variant's default)");
  app.add_option("--modes", f.modes,
                 "Timing modes: graph (FlashQLA's CUDA-graph method), cold (L2 flushed per call)");
  app.add_option("--db", f.db,
                 "Tuning store for qla-tuned (default results/<gpu>.sqlite when it exists)");
  app.add_option("--qla_out", f.qla_out,
                 "qla.bench.v1 JSON to write (default results/<gpu>/bench.json)");
  app.add_option("--device", f.device, "CUDA device index");
  app.add_option("--seed", f.seed, "Input generator seed (bench/fla_bench.py uses 42)");
  app.add_option("--distribution", f.distribution,
                 "Inputs: bench (FlashQLA's benchmark: a quarter of the heads with a zero gate) or "
                 "bench-decaying (the same with every head's gate kept)")
      ->check(CLI::IsMember({"bench", "bench-decaying"}));
  app.add_option("--tolerance", f.tolerance,
                 "Relative Frobenius error bound against the naive kernel");
  app.add_option("--max_seconds", f.max_seconds, "Cold mode: time cap per measurement, seconds");
  app.add_option("--rep_ms", f.rep_ms, "Graph mode: milliseconds of calls captured per graph");
  app.add_option("--replays", f.replays, "Graph mode: replays averaged");
  app.add_option("--config", f.configs,
                 "KERNEL=LABEL (or a bare LABEL) forcing a kernel's config on every qla "
                 "implementation, e.g. gdn.cp_correct=bv16.ms1.sk4.rt1 (repeatable)");
  app.add_option("--pdl", f.pdl,
                 "Chain the fused path's kernels with programmatic dependent launch on sm_90+ "
                 "(true, the op's default; false launches each after its predecessor ends)");
  app.add_option(
         "--lists", f.lists,
         "qla's work lists (chunk lists, CP split): build (in every call, the op's default) "
         "or prepared (built once per plan outside the timed calls, as FlashQLA builds its "
         "CP context)")
      ->check(CLI::IsMember({"build", "prepared"}));
  app.add_option("--pdl-cp", f.pdl_cp,
                 "With CP, the kernels launched early too (with --pdl): none (the op's default), "
                 "all, or a comma list of prep, warmup, state, correct, forward (each by the "
                 "kernel it follows: prep = cumsum and kkt_solve)");
}

std::vector<std::string> split_list(const std::string& s, const char* flag,
                                    const std::vector<std::string>& allowed) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    QLA_REQUIRE(std::find(allowed.begin(), allowed.end(), item) != allowed.end(),
                flag << ": unknown value '" << item << "'");
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  QLA_REQUIRE(!out.empty(), flag << ": give at least one value");
  return out;
}

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

bool file_exists(const std::string& path) {
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
    return true;
  }
  return false;
}

std::string version_text(int v) {  // 13000 → "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

int run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      Flags f;
      CLI::App app(
          "GDN forward benchmarks over FlashQLA's matrix (qla.bench.v1 JSON for `qla report`)",
          kProgram);
      add_flags(app, f);
      std::cout << app.help() << "Google Benchmark's flags (--benchmark_filter, --benchmark_out, "
                << "--benchmark_out_format, ...) are accepted too.\n";
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  Flags f;
  CLI::App app("bench_gdn_fwd", kProgram);
  add_flags(app, f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    throw qla::UserError(e.what());
  }
  const std::vector<Shape> shapes = cross(select_heads(f.heads), select_seqs(f.seqs));
  std::vector<std::string> known = {kImplTuned, kImplDefault, kImplUnfused, kImplNaive};
  for (const char* id : qla::gdn::kChunkFwdVariants)
    if (*id != '\0') known.push_back(std::string("qla:") + id);
  const std::vector<std::string> impls = split_list(f.impls, "--impls", known);
  const std::vector<std::string> modes = split_list(f.modes, "--modes", {kModeGraph, kModeCold});
  qla::gdn::PlanOptions forced;
  for (const std::string& c : f.configs) {
    try {
      qla::gdn::force_config(forced, c);
    } catch (const qla::UserError& e) {
      throw qla::UserError(std::string("--") + e.what());
    }
  }
  unsigned pdl_cp = 0;
  try {
    pdl_cp = qla::gdn::parse_cp_launches(f.pdl_cp);
  } catch (const qla::UserError& e) {
    throw qla::UserError(std::string("--pdl-cp: ") + e.what());
  }
  QLA_REQUIRE(f.tolerance > 0, "--tolerance: must be > 0");
  QLA_REQUIRE(f.max_seconds > 0 && f.rep_ms > 0 && f.replays > 0,
              "--max_seconds, --rep_ms and --replays must be > 0");

  // No GPU: one line, exit 1 (read_fingerprint says "no CUDA GPU: <reason>").
  qla::tuner::DeviceFingerprint fp;
  try {
    fp = qla::tuner::read_fingerprint(f.device);
  } catch (const qla::UserError& e) {
    std::cerr << kProgram << ": " << one_line(e.what()) << "\n";
    return 1;
  }

  RunnerOptions ro;
  ro.device = f.device;
  ro.seed = f.seed;
  ro.distribution = *qla::gdn::parse_distribution(f.distribution);
  ro.tolerance = f.tolerance;
  ro.measure.max_seconds = f.max_seconds;
  ro.graph_rep_ms = f.rep_ms;
  ro.graph_replays = f.replays;
  ro.pdl = f.pdl;
  ro.pdl_cp = pdl_cp;
  ro.lists = f.lists == "prepared" ? qla::gdn::Lists::kPrepared : qla::gdn::Lists::kBuild;
  ro.configs = forced.configs;
  ro.db = f.db;
  if (ro.db.empty() && file_exists("results/" + fp.slug() + ".sqlite"))
    ro.db = "results/" + fp.slug() + ".sqlite";
  const std::string out_path =
      f.qla_out.empty() ? "results/" + qla::report::slug(fp.name) + "/bench.json" : f.qla_out;

  std::cerr << kProgram << ": " << fp.describe()
            << "; measuring the card's copy and matmul ceilings\n";
  Document doc;
  doc.ceilings = measure_ceilings(f.device);
  std::cerr << kProgram << ": copy " << doc.ceilings.copy_gbps << " GB/s, matmul "
            << doc.ceilings.matmul_tflops << " TFLOP/s (" << doc.ceilings.matmul_how << ")\n";

  GdnFwdRunner runner(ro);
  std::cerr << kProgram << ": cold-mode timer " << runner.timer_status()
            << (runner.has_store() ? "; tuned configs from " + ro.db
                                   : std::string("; no tuning store"))
            << "\n";

  doc.device = {
      {"name", fp.name},
      {"sm_count", fp.sm_count},
      {"compute_capability", std::to_string(fp.cc_major) + "." + std::to_string(fp.cc_minor)},
      {"l2_bytes", fp.l2_bytes},
      {"mem_clock_khz", fp.mem_clock_khz},
      {"mem_bus_bits", fp.mem_bus_bits},
      {"fingerprint", fp.digest()}};
  doc.date = today_utc();
  doc.versions = {{"qla", QLA_VERSION_TEXT},
                  {"cuda_runtime", version_text(fp.runtime_version)},
                  {"cuda_driver", version_text(fp.driver_version)},
                  {"nvrtc", version_text(fp.nvrtc_version)}};
  const char* commit = std::getenv("QLA_GIT_COMMIT");
  const std::string git = commit && *commit ? commit : QLA_GIT_COMMIT;
  if (!git.empty()) doc.versions["git_commit"] = git;
  if (runner.has_store()) doc.versions["tuning_store"] = ro.db;
  std::ostringstream method;
  method << "graph: " << f.rep_ms
         << " ms of calls captured in one CUDA graph, L2 flushed before each of " << f.replays
         << " replays, mean per call (FlashQLA's do_bench cudagraph method), each kernel's "
         << "CUPTI durations over the timed replays per call; cold: L2 scrubbed "
         << "before every call, span of the op's kernels from CUPTI (CUDA events where CUPTI is "
            "unavailable), "
         << "median of adaptive samples (>= 10, <= " << f.max_seconds << " s). Inputs: "
         << (f.distribution == "bench" ? "benchmark distribution"
                                       : "benchmark distribution with every head's gate kept")
         << ", "
         << "seed " << f.seed
         << ", identical for every implementation; each implementation validated once "
         << "against the naive kernel (naive against the float64 reference) before timing"
         << (f.pdl ? "" : "; qla without programmatic dependent launch")
         << (f.pdl && pdl_cp != 0
                 ? "; qla with CP chaining by programmatic dependent launch: " + f.pdl_cp
                 : std::string())
         << (f.lists == "prepared" ? "; qla's work lists built once per plan outside the timed "
                                     "calls (prepare_lists)"
                                   : "");
  if (!f.configs.empty()) {
    method << "; qla with forced configs:";
    for (const std::string& c : f.configs) method << " " << c;
  }
  doc.method = method.str();

  // One benchmark per (shape, implementation, mode), shape-major so each shape's inputs are
  // generated once.
  for (const Shape& shape : shapes) {
    for (const std::string& impl : impls) {
      for (const std::string& mode : modes) {
        const std::string name = "gdn_fwd/" + impl + "/" + mode + "/" + shape.name();
        benchmark::RegisterBenchmark(name.c_str(),
                                     [&, shape, impl, mode](benchmark::State& state) {
                                       Outcome o;
                                       for (auto _ : state) {
                                         // A failure of one row (a CUDA error, a plan refused) is
                                         // recorded as skipped and the run goes on, so the document
                                         // still gets written with everything that did run.
                                         try {
                                           o = runner.run(shape, impl, mode, doc.ceilings);
                                         } catch (const std::exception& e) {
                                           o = Outcome{std::nullopt, one_line(e.what())};
                                         }
                                         if (!o.row) break;
                                         state.SetIterationTime(o.row->ms * 1e-3);
                                       }
                                       if (!o.row) {
                                         doc.skipped.push_back({shape, impl, o.skipped});
                                         state.SkipWithError(o.skipped.c_str());
                                         return;
                                       }
                                       const Row& r = *o.row;
                                       state.counters["GB/s"] = r.rates.gbps;
                                       state.counters["TFLOP/s"] = r.rates.tflops;
                                       state.counters["copy_frac"] = r.rates.copy_fraction;
                                       state.counters["matmul_frac"] = r.rates.matmul_fraction;
                                       state.counters["err_o"] = r.validation.o.rel_fro;
                                       state.counters["err_ht"] = r.validation.ht.rel_fro;
                                       state.counters["cp_pieces"] = r.cp_pieces;
                                       doc.rows.push_back(r);
                                     })
            ->UseManualTime()
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  write_document(doc, out_path);
  std::cerr << kProgram << ": " << doc.rows.size() << " rows, " << doc.skipped.size()
            << " skipped -> " << out_path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const qla::UserError& e) {
    std::cerr << kProgram << ": " << one_line(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << kProgram << ": " << one_line(e.what()) << "\n";
    return 1;
  }
}
