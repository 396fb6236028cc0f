// `qla db show | export | merge`: read a tuning store (summary, diffable JSON) and combine stores from several
// machines without duplicates. Stores are opened read-only except the merge target.
#include <cstdio>
#include <fstream>
#include <memory>

#include "commands.hpp"
#include "qla/error.hpp"
#include "qla/tuner/store.hpp"

namespace qla::cli {

void add_db_command(CLI::App& app) {
  CLI::App* db = app.add_subcommand("db", "Inspect, export and merge tuning stores");
  db->require_subcommand(1);

  CLI::App* show = db->add_subcommand("show", "Summary of a store: devices, trials by status, kernels, winners");
  auto show_path = std::make_shared<std::string>();
  show->add_option("store", *show_path, "SQLite store")->required();
  show->callback([show_path] {
    const tuner::Store s = tuner::Store::open(*show_path, tuner::Store::Mode::kReadOnly);
    std::fputs(s.summary().c_str(), stdout);
    exit_code() = 0;
  });

  CLI::App* exp = db->add_subcommand("export", "Write a store as JSON (stable order, for review and diffs)");
  auto exp_path = std::make_shared<std::string>();
  auto exp_out = std::make_shared<std::string>();
  exp->add_option("store", *exp_path, "SQLite store")->required();
  exp->add_option("-o,--output", *exp_out, "Output file (default stdout)");
  exp->callback([exp_path, exp_out] {
    const tuner::Store s = tuner::Store::open(*exp_path, tuner::Store::Mode::kReadOnly);
    const std::string text = s.export_json().dump(1) + "\n";
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

  CLI::App* merge = db->add_subcommand("merge", "Merge stores into one (created if missing); no duplicates");
  auto into = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  merge->add_option("--into", *into, "Target store")->required();
  merge->add_option("inputs", *inputs, "Stores to merge in")->required();
  merge->callback([into, inputs] {
    // Check every input before touching the target, so a bad input leaves the target as it was.
    std::vector<tuner::Store> sources;
    for (const auto& in : *inputs) sources.push_back(tuner::Store::open(in, tuner::Store::Mode::kReadOnly));
    tuner::Store target = tuner::Store::open(*into, tuner::Store::Mode::kReadWrite);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const tuner::MergeStats m = target.merge_from(sources[i]);
      std::printf("%s: +%lld trials (%lld already present), +%lld devices, +%lld runs, +%lld winners\n",
                  (*inputs)[i].c_str(), static_cast<long long>(m.trials_added),
                  static_cast<long long>(m.trials_skipped), static_cast<long long>(m.devices_added),
                  static_cast<long long>(m.runs_added), static_cast<long long>(m.winners_added));
    }
    exit_code() = 0;
  });
}

}  // namespace qla::cli
