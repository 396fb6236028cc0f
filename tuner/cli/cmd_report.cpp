// `qla report`: writes reports/<gpu>.md (and PNG plots beside it where matplotlib is importable)
// from the bench JSON, the FLA baseline JSON, the published numbers and the tuning store.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/tuner/shape_matrix.hpp"
#include "qla/tuner/store.hpp"
#include "qla_git_commit.hpp"
#include "report/report.hpp"

namespace qla::cli {
namespace {

/// Runs argv[0] (looked up on PATH) with `argv`, no shell, and waits; its exit status, or −1 when
/// it could not start or was killed.
int run_child(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace fs = std::filesystem;

struct ReportOptions {
  std::vector<std::string> bench;
  std::vector<std::string> published;
  std::string results = "results";
  std::string db;
  std::string out = "reports";
  bool plots = true;
};

std::vector<std::string> json_files(const fs::path& dir, bool recursive) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  auto take = [&](const fs::directory_entry& e) {
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(e.path().string());
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) take(e);
  } else {
    for (const auto& e : fs::directory_iterator(dir)) take(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The commit the binary was built from ("-dirty" for a modified tree), recorded at build time: no
// child process, and the same answer wherever the report is run.
std::string git_commit() { return QLA_GIT_COMMIT; }

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    QLA_REQUIRE(f, "cannot write '" << tmp.string() << "'");
    f << text;
    QLA_REQUIRE(f.good(), "writing '" << tmp.string() << "' failed");
  }
  fs::rename(tmp, path);
}

int run_report(const ReportOptions& o) {
  // Bench documents: given, or every qla.bench.v1 document under results/ (published/ excluded);
  // correctness records (qla.validation.v1) and chunk-step records (qla.chunk_step.v1) by card.
  std::vector<std::string> bench = o.bench;
  std::map<std::string, nlohmann::json> validation, chunk_step;
  for (const auto& f : json_files(o.results, true)) {
    if (f.find("/published/") != std::string::npos) continue;
    std::ifstream in(f);
    const auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) continue;
    if (o.bench.empty() && doc.value("schema", "") == "qla.bench.v1") bench.push_back(f);
    if (doc.value("schema", "") == "qla.validation.v1") {
      report::check_validation_record(doc, f);
      validation[doc["device"].value("name", "")] = doc;
    }
    if (doc.value("schema", "") == "qla.chunk_step.v1") {
      report::check_chunk_step_record(doc, f);
      chunk_step[doc["device"].value("name", "")] = doc;
    }
  }
  QLA_REQUIRE(!bench.empty(),
              "no bench documents: pass --bench FILE or put qla.bench.v1 JSON under '"
                  << o.results << "/' (the bench and bench/fla_bench.py write them)");
  // Group by card: one page per card.
  std::map<std::string, std::vector<std::string>> by_card;
  for (const auto& f : bench) {
    std::ifstream in(f);
    QLA_REQUIRE(in, "bench document '" << f << "' cannot be read");
    const auto doc = nlohmann::json::parse(in, nullptr, false);
    QLA_REQUIRE(doc.is_object() && doc.contains("device"),
                "bench document '" << f << "' names no device");
    by_card[doc["device"].value("name", "")].push_back(f);
  }
  const std::vector<std::string> published =
      o.published.empty() ? json_files(fs::path(o.results) / "published", false) : o.published;
  std::error_code ec;
  fs::create_directories(o.out, ec);
  QLA_REQUIRE(!ec, "--out: cannot create folder '" << o.out << "': " << ec.message());
  for (const auto& [card, files] : by_card) {
    const std::string slug = report::slug(card);
    std::optional<nlohmann::json> store;
    const std::string db =
        !o.db.empty() ? o.db : (fs::path(o.results) / (slug + ".sqlite")).string();
    if (fs::exists(db)) {
      store = tuner::Store::open(db, tuner::Store::Mode::kReadOnly).export_json();
    } else if (!o.db.empty()) {
      throw UserError("store '" + o.db + "' does not exist");
    }
    auto data = report::load_report_data(files, published, store, git_commit());
    if (auto it = validation.find(card); it != validation.end()) data.validation = it->second;
    if (auto it = chunk_step.find(card); it != chunk_step.end()) data.chunk_step = it->second;
    for (const tuner::Shape& s : tuner::cross(tuner::headline_heads(), tuner::headline_seqs()))
      data.headline.push_back(
          {s.heads.h_qk, s.heads.h_v, {s.seqs.seqlens.begin(), s.seqs.seqlens.end()}});
    // Space sizes from the declarations themselves (buildable on Hopper, the arch the stores here
    // come from).
    const ArchInfo hopper = ArchInfo::named("sm_90a");
    for (const cuda::KernelFamily& f : cuda::kernel_families())
      data.space_sizes[f.space->kernel] = {f.space->size(), f.space->enumerate(&hopper).size()};
    const SpaceDecl& plan = gdn::fwd_plan_space();
    data.space_sizes[plan.kernel] = {plan.size(), plan.enumerate(&hopper).size()};
    const fs::path md = fs::path(o.out) / (slug + ".md");
    const fs::path digest = fs::path(o.out) / (slug + ".json");
    write_atomically(digest, report::plot_digest(data).dump(1) + "\n");
    std::string page = report::render_markdown(data);
    if (o.plots) {
      // The plot script runs as a child process with an argument vector (no shell): paths are
      // passed as they are, whatever characters they hold.
      const char* env_script = std::getenv("QLA_PLOT_SCRIPT");
      const std::string script = env_script && *env_script ? env_script : QLA_PLOT_SCRIPT;
      if (!fs::exists(script)) {
        std::cerr << "qla report: no plots: the plot script " << script
                  << " does not exist (QLA_PLOT_SCRIPT)\n";
      } else if (const int rc = run_child({"python3", script, digest.string(), o.out}); rc != 0) {
        std::cerr << "qla report: no plots (" << script << " exited " << rc
                  << "); the Markdown page is complete without them\n";
      } else {
        page += "## Plots\n\n![speedup over FlashQLA and FLA per head configuration](" + slug +
                "_speedup.png)\n\n![roofline](" + slug + "_roofline.png)\n";
      }
    }
    write_atomically(md, page);
    std::cout << "wrote " << md.string() << " (" << files.size() << " bench documents"
              << (store ? ", store " + db : std::string()) << ")\n";
  }
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto opts = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand("report",
                                 "Write reports/<gpu>.md from bench, baseline and tuning results");
  cmd->add_option("--bench", opts->bench,
                  "qla.bench.v1 JSON files (default: every one under --results)");
  cmd->add_option("--published", opts->published,
                  "published-number JSON files (default: <results>/published/*.json)");
  cmd->add_option("--results", opts->results, "results folder")->capture_default_str();
  cmd->add_option("--db", opts->db, "tuning store (default: <results>/<gpu>.sqlite when present)");
  cmd->add_option("--out", opts->out, "output folder")->capture_default_str();
  cmd->add_flag("!--no-plots", opts->plots, "skip the PNG plots");
  cmd->callback([opts] { exit_code() = run_report(*opts); });
}

}  // namespace qla::cli
