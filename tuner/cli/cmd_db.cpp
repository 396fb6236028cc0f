// `qla db show | export | efficiency | compare | prune | merge`: read a tuning store (summary,
// diffable JSON), replay its searches, compare the winners of two stores, and combine stores from
// several machines without duplicates. Stores are opened read-only except the prune and merge
// targets.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/io/npy.hpp"
#include "qla/tuner/efficiency.hpp"
#include "qla/tuner/fake_kernel.hpp"
#include "qla/tuner/gdn_adapter.hpp"
#include "qla/tuner/repeatability.hpp"
#include "qla/tuner/store.hpp"
#include "qla_git_commit.hpp"

namespace qla::cli {

void add_db_command(CLI::App& app) {
  CLI::App* db = app.add_subcommand("db", "Inspect, export, compare and merge tuning stores");
  db->require_subcommand(1);

  CLI::App* show =
      db->add_subcommand("show", "Summary of a store: devices, trials by status, kernels, winners");
  auto show_path = std::make_shared<std::string>();
  show->add_option("store", *show_path, "SQLite store")->required();
  show->callback([show_path] {
    const tuner::Store s = tuner::Store::open(*show_path, tuner::Store::Mode::kReadOnly);
    std::fputs(s.summary().c_str(), stdout);
    exit_code() = 0;
  });

  CLI::App* exp =
      db->add_subcommand("export", "Write a store as JSON (stable order, for review and diffs)");
  auto exp_path = std::make_shared<std::string>();
  auto exp_out = std::make_shared<std::string>();
  exp->add_option("store", *exp_path, "SQLite store")->required();
  exp->add_option("-o,--output", *exp_out, "Output file (default stdout)");
  exp->callback([exp_path, exp_out] {
    const tuner::Store s = tuner::Store::open(*exp_path, tuner::Store::Mode::kReadOnly);
    const std::string text = s.export_text();
    if (exp_out->empty()) {
      std::fputs(text.c_str(), stdout);
    } else {
      std::ofstream out(*exp_out, std::ios::binary | std::ios::trunc);
      QLA_REQUIRE(out, "--output: cannot write '" << *exp_out << "'");
      out << text;
      QLA_REQUIRE(out.good(), "--output: writing '" << *exp_out << "' failed");
    }
    exit_code() = 0;
  });

  CLI::App* eff = db->add_subcommand("efficiency",
                                     "Replay each search strategy on exhaustively tuned problems: "
                                     "trials to within 2 % of the best");
  struct EffArgs {
    std::string store;
    std::string kernel = "gdn.fused_fwd";
    std::size_t repeats = 20;
    double tolerance = 0.02;
    std::string json;
    bool fake = false;
  };
  auto ea = std::make_shared<EffArgs>();
  eff->add_option("store", ea->store, "SQLite store")->required();
  eff->add_option("--kernel", ea->kernel, "Kernel id")->capture_default_str();
  eff->add_option("--repeats", ea->repeats, "Seeds replayed for random and anneal")
      ->capture_default_str();
  eff->add_option("--tolerance", ea->tolerance, "Relative distance to the exhaustive best")
      ->capture_default_str();
  eff->add_option("--json", ea->json, "Also write the rows as JSON to this file");
  eff->add_flag("--fake", ea->fake, "The CPU fake kernel (tests)")->group("");
  eff->callback([ea] {
    QLA_REQUIRE(ea->repeats > 0, "--repeats must be positive");
    QLA_REQUIRE(ea->tolerance >= 0, "--tolerance must be >= 0");
    const tuner::Store s = tuner::Store::open(ea->store, tuner::Store::Mode::kReadOnly);
    // The kernel as each card of the store was tuned (the untuned op in its identity reads the
    // card's SM count), then as the named sm_90a target: the first with exhaustive problems.
    std::string kernel = ea->kernel;
    std::vector<tuner::EfficiencyRow> rows;
    for (const ArchInfo& arch : tuner::gdn_store_archs(s)) {
      tuner::TunableKernel k = ea->fake
                                   ? tuner::TunableKernel{tuner::fake_space(), "fake-source-1", {}}
                                   : tuner::gdn_tunable_kernels({ea->kernel}, arch).at(0);
      QLA_REQUIRE(!k.space.runtime,
                  "--kernel: " << k.space.kernel
                               << " is a joint space whose trials depend on the "
                                  "configs of its members; only kernel spaces are replayed");
      kernel = k.space.kernel;
      rows = tuner::search_efficiency(s, k.identity(), k.space, arch, ea->repeats, ea->tolerance);
      if (!rows.empty()) break;
    }
    QLA_REQUIRE(!rows.empty(), "store: no problem of "
                                   << kernel
                                   << " (current source) was tuned exhaustively "
                                      "(qla tune --strategy exhaustive --transfer 0)");
    std::printf("%-58s %-10s %6s %9s %9s %6s %6s  %s\n", "problem", "strategy", "space", "best_us",
                "mean", "median", "worst", "best config");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      std::printf("%-58s %-10s %6zu %9.2f %9.1f %6zu %6zu  %s\n", r.problem.c_str(),
                  r.strategy.c_str(), r.buildable, r.best_us, r.mean_trials, r.median_trials,
                  r.worst_trials, r.best_config.c_str());
      out.push_back({{"device", r.device},
                     {"problem", r.problem},
                     {"strategy", r.strategy},
                     {"buildable", r.buildable},
                     {"best_config", r.best_config},
                     {"best_us", r.best_us},
                     {"repeats", r.repeats},
                     {"mean_trials", r.mean_trials},
                     {"median_trials", r.median_trials},
                     {"worst_trials", r.worst_trials},
                     {"tolerance", ea->tolerance}});
    }
    if (!ea->json.empty()) {
      std::ofstream f(ea->json, std::ios::binary | std::ios::trunc);
      QLA_REQUIRE(f, "--json: cannot write '" << ea->json << "'");
      f << out.dump(1) << "\n";
    }
    exit_code() = 0;
  });

  CLI::App* cmp = db->add_subcommand("compare",
                                     "Winners of two stores that tuned the same problems, side by "
                                     "side: same config, within noise, or differs");
  struct CompareArgs {
    std::string a;
    std::string b;
    double tolerance = tuner::kRepeatabilityTolerance;
    std::string json;
  };
  auto ca = std::make_shared<CompareArgs>();
  cmp->add_option("store_a", ca->a, "SQLite store A")->required();
  cmp->add_option("store_b", ca->b, "SQLite store B")->required();
  cmp->add_option("--tolerance", ca->tolerance,
                  "Relative distance under which two different winners are the same result")
      ->capture_default_str();
  cmp->add_option("--json", ca->json, "Also write the comparison (qla.repeatability.v1) here");
  cmp->callback([ca] {
    QLA_REQUIRE(ca->tolerance >= 0, "--tolerance must be >= 0");
    const tuner::Store a = tuner::Store::open(ca->a, tuner::Store::Mode::kReadOnly);
    const tuner::Store b = tuner::Store::open(ca->b, tuner::Store::Mode::kReadOnly);
    const nlohmann::json doc = tuner::compare_stores(a, b, ca->tolerance);
    std::fputs(tuner::repeatability_table(doc).c_str(), stdout);
    if (!ca->json.empty()) write_file_atomic(ca->json, doc.dump(1) + "\n");
    exit_code() = 0;
  });

  CLI::App* prune = db->add_subcommand("prune",
                                       "Delete the trials of superseded kernel sources (every "
                                       "winner and its trial stay), then compact");
  struct PruneArgs {
    std::string store;
    bool dry_run = false;
    bool force = false;
    bool winners_only = false;
    bool fake = false;
  };
  auto pa = std::make_shared<PruneArgs>();
  prune->add_option("store", pa->store, "SQLite store")->required();
  prune->add_flag("--dry-run", pa->dry_run, "Count what would be deleted; change nothing");
  prune->add_flag("--force", pa->force,
                  "Delete trials of the store's newest tuning run too (refused by default: a build "
                  "of other kernel sources than the run's would take away what its resume needs)");
  prune->add_flag("--winners-only", pa->winners_only,
                  "Keep only every winner and the trial it names (a store to publish: lookup, "
                  "header and report need no more; a resume measures the rest again)");
  prune->add_flag("--fake", pa->fake, "The CPU fake kernel is the only current source (tests)")
      ->group("");
  prune->callback([pa] {
    tuner::Store s = tuner::Store::open(pa->store, tuner::Store::Mode::kUpdate);
    // Current: the sources and spaces this build would tune (qla tune's identities) on each card
    // the store has seen; none with --winners-only.
    const std::vector<tuner::KernelIdentity> current =
        pa->winners_only ? std::vector<tuner::KernelIdentity>{}
        : pa->fake       ? std::vector<tuner::KernelIdentity>{tuner::TunableKernel{
                         tuner::fake_space(),
                         "fake-source-1",
                         {}}.identity()}
                         : tuner::gdn_current_identities(s);
    // Count first: trials the newest run wrote are current for the build that tuned last, so this
    // build has other sources; deleting them makes that run's resume measure them again.
    const tuner::PruneStats count = s.prune(current, /*dry_run=*/true);
    QLA_REQUIRE(pa->dry_run || pa->force || pa->winners_only || count.newest_run_removed == 0,
                pa->store << ": " << count.newest_run_removed << " of the " << count.trials_removed
                          << " trials to delete were written by the store's newest run (qla "
                          << count.newest_run_commit << "), whose kernel sources this build (qla "
                          << QLA_GIT_COMMIT
                          << ") does not have; resuming that run would measure them again. Prune "
                             "with a build of its sources, or pass --force");
    const tuner::PruneStats st = pa->dry_run ? count : s.prune(current, false);
    std::printf(
        "%s%s: %lld trials kept, %lld removed; %lld winners kept; %lld runs and %lld devices "
        "removed\n",
        pa->store.c_str(), pa->dry_run ? " (dry run)" : "", static_cast<long long>(st.trials_kept),
        static_cast<long long>(st.trials_removed), static_cast<long long>(st.winners_kept),
        static_cast<long long>(st.runs_removed), static_cast<long long>(st.devices_removed));
    if (pa->dry_run && !pa->winners_only && st.newest_run_removed > 0)
      std::printf("%lld of them from the newest run (qla %s): pruning needs --force\n",
                  static_cast<long long>(st.newest_run_removed), st.newest_run_commit.c_str());
    exit_code() = 0;
  });

  CLI::App* merge =
      db->add_subcommand("merge", "Merge stores into one (created if missing); no duplicates");
  auto into = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  merge->add_option("--into", *into, "Target store")->required();
  merge->add_option("inputs", *inputs, "Stores to merge in")->required();
  merge->callback([into, inputs] {
    // Check every input before touching the target, so a bad input leaves the target as it was.
    std::vector<tuner::Store> sources;
    for (const auto& in : *inputs)
      sources.push_back(tuner::Store::open(in, tuner::Store::Mode::kReadOnly));
    tuner::Store target = tuner::Store::open(*into, tuner::Store::Mode::kReadWrite);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const tuner::MergeStats m = target.merge_from(sources[i]);
      std::printf(
          "%s: +%lld trials (%lld already present), +%lld devices, +%lld runs, +%lld winners\n",
          (*inputs)[i].c_str(), static_cast<long long>(m.trials_added),
          static_cast<long long>(m.trials_skipped), static_cast<long long>(m.devices_added),
          static_cast<long long>(m.runs_added), static_cast<long long>(m.winners_added));
    }
    exit_code() = 0;
  });
}

}  // namespace qla::cli
