// `qla header` on the CPU: the golden header of the fixture store (byte-identical;
// QLA_UPDATE_GOLDEN=1 rewrites the golden files; the deploy example's header is checked by the
// deploy_header_matches_results test and rewritten with `qla header --db
// results/nvidia-h100-80gb-hbm3.sqlite --arch sm_90 --output examples/deploy/tuned_h100.hpp`), the
// compiled-in dispatcher against tuner::Lookup on exact, nearest, same-arch and unseen problems,
// the defaults-only header of an empty store, and bad input (exit code 2 from the `qla` binary, no
// file written, an existing file left as it was).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "fixture_store.hpp"
#include "header_generator.hpp"
#include "qla/cuda/kernel_catalog.hpp"
#include "qla/error.hpp"
#include "qla/tuner/lookup.hpp"
#include "qla/tuner/problem_json.hpp"

// The committed golden header, compiled in: its select() is under test. Guarded so that a deleted
// golden file can be regenerated (QLA_UPDATE_GOLDEN=1); the golden test fails while it is missing.
#if __has_include("golden/fixture_tuned.hpp")
#include "golden/fixture_tuned.hpp"
#define QLA_HAVE_GOLDEN_HEADER 1
#endif

namespace qla::header_test {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("qla_header_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool update_golden() {
  const char* v = std::getenv("QLA_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

// Compares with the golden file, or rewrites it under QLA_UPDATE_GOLDEN=1.
void expect_golden(const std::string& text, const std::string& golden_path) {
  if (update_golden()) {
    spit(golden_path, text);
    GTEST_SKIP() << "rewrote " << golden_path;
  }
  ASSERT_TRUE(fs::exists(golden_path)) << golden_path << " missing; run with QLA_UPDATE_GOLDEN=1";
  const std::string golden = slurp(golden_path);
  EXPECT_TRUE(text == golden) << "generated header differs from " << golden_path
                              << " (rerun with QLA_UPDATE_GOLDEN=1 if the change is intended)";
}

tuner::HeaderResult make_header(const std::string& store_path, const std::string& device = "",
                                const std::string& arch = "",
                                const std::string& store_name = "fixture.sqlite") {
  const tuner::Store s = tuner::Store::open(store_path, tuner::Store::Mode::kReadOnly);
  tuner::HeaderOptions o;
  o.store_name =
      store_name;  // as a user would pass it (the golden files must not name a temporary path)
  o.device = device;
  o.arch = arch;
  return tuner::generate_header(s, tuner::gdn_header_kernels(), o);
}

// The header serves the op plan and every family whose declaration asks for it (kDeployOrder), in
// declaration order; a family reaches the header from its own header alone.
TEST(HeaderKernels, DerivedFromTheFamilyDeclarations) {
  std::vector<std::string> names, ids;
  for (const tuner::HeaderKernel& k : tuner::gdn_header_kernels()) {
    names.push_back(k.name);
    ids.push_back(k.space->kernel);
    EXPECT_EQ(k.in_space.rfind("qla::in_space_values<qla::gdn::", 0), 0u) << k.in_space;
    EXPECT_EQ(k.include.rfind("qla/gdn/", 0), 0u) << k.include;
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"fwd_plan", "fused_fwd", "fused_fwd_ws", "fused_fwd_wgmma",
                                      "kkt_solve", "state_pass", "unfused", "state_pass_wgmma"}));
  for (std::size_t i = 1; i < ids.size(); ++i) {
    const cuda::KernelFamily* f = cuda::find_kernel_family(ids[i]);
    ASSERT_NE(f, nullptr) << ids[i];
    EXPECT_EQ(f->deploy_order, static_cast<int>(i)) << ids[i];
  }
}

TEST(HeaderGolden, FixtureStoreGivesTheGoldenBytes) {
  TempDir dir;
  build_fixture_store(dir.file("fixture.sqlite"));
  const tuner::HeaderResult h = make_header(dir.file("fixture.sqlite"));
  EXPECT_FALSE(h.defaults_only);
  // fused_fwd: 2 primary + 1 sibling (sm_90) + 1 (sm_80); fused_fwd_ws 1; kkt_solve 1; unfused 1;
  // fwd_plan 2
  EXPECT_EQ(h.rows, 9u);
  // The same store twice gives the same bytes.
  EXPECT_EQ(h.text, make_header(dir.file("fixture.sqlite")).text);
  // Provenance: store, devices with drivers, dates from the store, source and space hashes.
  EXPECT_NE(h.text.find("// store:        fixture.sqlite"), std::string::npos);
  EXPECT_NE(h.text.find("// newest trial: 2026-11-"), std::string::npos);
  EXPECT_NE(h.text.find("driver 13000"), std::string::npos);
  EXPECT_NE(h.text.find("source fixture-src-1"), std::string::npos);
  EXPECT_EQ(h.text.find("fixture-src-0"), std::string::npos) << "an older kernel source leaked in";
  EXPECT_NE(h.text.find("1.27x over the untuned op"),
            std::string::npos);  // the P32K winner: 379.25 / 298.5
  EXPECT_NE(h.text.find(
                "// qla-aot: gdn/fused_fwd.cuh | qla::gdn::fused_fwd_kernel<64, 128, 3, 8, false, "
                "__nv_bfloat16, float>"),
            std::string::npos);
  expect_golden(h.text, QLA_HEADER_GOLDEN_DIR "/fixture_tuned.hpp");
}

TEST(HeaderGolden, ArchScopeKeepsOnlySm90) {
  TempDir dir;
  build_fixture_store(dir.file("fixture.sqlite"));
  const tuner::HeaderResult h = make_header(dir.file("fixture.sqlite"), "", "sm_90");
  EXPECT_EQ(h.text.find("qla-cuda-arch: 80"), std::string::npos);
  EXPECT_NE(h.text.find("qla-cuda-arch: 90a"), std::string::npos);
  expect_golden(h.text, QLA_SM90_GOLDEN);
}

TEST(HeaderGolden, EmptyStoreGivesDefaultsOnly) {
  TempDir dir;
  build_empty_store(dir.file("empty.sqlite"));
  const tuner::HeaderResult h = make_header(dir.file("empty.sqlite"));
  EXPECT_TRUE(h.defaults_only);
  EXPECT_EQ(h.rows, 0u);
  EXPECT_NE(h.text.find("DEFAULTS ONLY"), std::string::npos);
  EXPECT_NE(h.text.find("inline constexpr bool kDefaultsOnly = true;"), std::string::npos);
  EXPECT_EQ(h.text.find("qla-aot:"), std::string::npos);
  // A scope on an empty store is no error either: there is nothing to disagree with yet.
  EXPECT_TRUE(make_header(dir.file("empty.sqlite"), "", "sm_90").defaults_only);
  expect_golden(h.text, QLA_HEADER_GOLDEN_DIR "/defaults_only.hpp");
}

// ---- the compiled-in golden header against the tuner's lookup
#ifdef QLA_HAVE_GOLDEN_HEADER

std::string source_of(tuner::Provenance p) {
  switch (p) {
    case tuner::Provenance::kExact:
      return "exact";
    case tuner::Provenance::kNearest:
      return "nearest";
    case tuner::Provenance::kSameArch:
      return "same_arch";
    case tuner::Provenance::kHeuristic:
      return "default";
  }
  return "?";
}

template <int N>
void expect_same(const qla_tuned::Choice<N>& c, const tuner::LookupResult& r,
                 const std::string& what) {
  EXPECT_EQ(c.point(), r.config) << what;
  EXPECT_EQ(std::string(qla_tuned::source_name(c.source)), source_of(r.provenance)) << what;
  EXPECT_DOUBLE_EQ(c.distance, r.distance) << what;
  EXPECT_DOUBLE_EQ(c.measured_us, r.measured_us) << what;
  EXPECT_EQ(std::string(c.problem), r.problem) << what;
}

class HeaderDispatch : public ::testing::Test {
 protected:
  void SetUp() override {
    build_fixture_store(dir_.file("fixture.sqlite"));
    store_ = std::make_unique<tuner::Store>(
        tuner::Store::open(dir_.file("fixture.sqlite"), tuner::Store::Mode::kReadOnly));
  }
  // The lookup of `device` over the fixture, every covered kernel at the fixture's current source.
  tuner::Lookup lookup_for(const tuner::DeviceFingerprint& device) const {
    tuner::Lookup l(device);
    for (const tuner::HeaderKernel& k : tuner::gdn_header_kernels()) {
      char hash[17];
      std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(k.space->hash()));
      l.add_kernel(*store_, {k.space->kernel, "fixture-src-1", hash}, *k.space);
    }
    return l;
  }
  void expect_agree(const tuner::DeviceFingerprint& device, const gdn::Problem& p) const {
    const tuner::Lookup l = lookup_for(device);
    const qla_tuned::Selection s = qla_tuned::select(p, device.cc_major, device.cc_minor);
    const std::string what = tuner::problem_key(p) + " on sm_" + std::to_string(device.cc_major) +
                             std::to_string(device.cc_minor);
    expect_same(s.kkt_solve, l.find("gdn.kkt_solve", p), what + " kkt_solve");
    expect_same(s.fused_fwd, l.find("gdn.fused_fwd", p), what + " fused_fwd");
    expect_same(s.fused_fwd_ws, l.find("gdn.fused_fwd_ws", p), what + " fused_fwd_ws");
    expect_same(s.state_pass, l.find("gdn.state_pass", p), what + " state_pass");
    expect_same(s.unfused, l.find("gdn.unfused", p), what + " unfused");
    expect_same(s.fwd_plan, l.find("gdn.fwd_plan", p), what + " fwd_plan");
  }

  TempDir dir_;
  std::unique_ptr<tuner::Store> store_;
};

TEST_F(HeaderDispatch, ProblemKeyMatchesTheTuners) {
  gdn::Problem fixed;
  fixed.batch = 2;
  fixed.tokens = 4096;
  fixed.h_qk = 2;
  fixed.h_v = 8;
  gdn::Problem l2 = packed({3000, 1096}, 2, 8);
  l2.l2norm_qk = true;
  for (const gdn::Problem& p : {packed({4096}, 2, 8), packed({28672, 4096}, 16, 32), fixed, l2})
    EXPECT_EQ(qla_tuned::problem_key(p), tuner::problem_key(p));
}

TEST_F(HeaderDispatch, ExactRowsGiveTheirTunedValues) {
  const auto s = qla_tuned::select(packed({4096}, 2, 8), 9, 0);
  EXPECT_EQ(s.fused_fwd.source, qla_tuned::Source::kExact);
  EXPECT_EQ(s.fused_fwd.point(),
            (Point{64, 32, 2, 8, 0}));  // the best valid trial, not the invalid one
  EXPECT_DOUBLE_EQ(s.fused_fwd.measured_us, 40.0);
  EXPECT_EQ(s.unfused.point(), (Point{64, 4, 64}));
  EXPECT_EQ(s.state_pass.source, qla_tuned::Source::kDefault);
  const auto w = qla_tuned::select(packed({32768}, 2, 8), 9, 0);
  EXPECT_EQ(w.fused_fwd.point(),
            (Point{64, 128, 3, 8, 0}));  // the decided winner and its re-measured time
  EXPECT_DOUBLE_EQ(w.fused_fwd.measured_us, 298.5);
  EXPECT_EQ(w.tuned_configs().count("gdn.fused_fwd"), 1u);
  EXPECT_EQ(w.tuned_configs().count("gdn.state_pass"), 0u);
  expect_agree(fixture_h100(), packed({4096}, 2, 8));
  expect_agree(fixture_h100(), packed({32768}, 2, 8));
  expect_agree(fixture_h100(), packed({8192, 8192}, 16, 64));
  expect_agree(fixture_a100(), packed({4096}, 2, 8));
}

TEST_F(HeaderDispatch, TunedConfigsNeverMixChunkSizes) {
  // P4K: the plan row says C = 32; the fused and kkt rows that lookup finds are at C = 64 and stay
  // out.
  const auto s = qla_tuned::select(packed({4096}, 2, 8), 9, 0);
  EXPECT_EQ(s.fwd_plan.source, qla_tuned::Source::kExact);
  EXPECT_EQ(s.fwd_plan.point(), (Point{32, 0, 0, 10, 1, 0}));
  EXPECT_EQ(s.fused_fwd.point().at(0), 64);
  auto configs = s.tuned_configs();
  EXPECT_EQ(configs.at("gdn.fwd_plan"), (Point{32, 0, 0, 10, 1, 0}));
  EXPECT_EQ(configs.count("gdn.fused_fwd"), 0u);
  EXPECT_EQ(configs.count("gdn.kkt_solve"), 0u);
  EXPECT_EQ(configs.count("gdn.unfused"), 1u);  // shares no chunk: always passed on
  // P32K: plan, fused and kkt rows all at C = 64 are passed on together.
  configs = qla_tuned::select(packed({32768}, 2, 8), 9, 0).tuned_configs();
  EXPECT_EQ(configs.at("gdn.fwd_plan"), (Point{64, 1, 16, 10, 1, 0}));
  EXPECT_EQ(configs.at("gdn.fused_fwd"), (Point{64, 128, 3, 8, 0}));
  EXPECT_EQ(configs.at("gdn.kkt_solve"), (Point{64, 32, 8, 0, 0}));
  // No plan row for the class: the first chunk-sharing kernel with a row (fused_fwd) decides.
  configs = qla_tuned::select(packed({8192, 8192}, 16, 64), 9, 0).tuned_configs();
  EXPECT_EQ(configs.count("gdn.fwd_plan"), 0u);
  EXPECT_EQ(configs.at("gdn.fused_fwd_ws"), (Point{64, 128, 2, 8, 24}));
  EXPECT_EQ(configs.count("gdn.fused_fwd"), 0u);
}

TEST_F(HeaderDispatch, NearestRowsInLogSpace) {
  const auto s = qla_tuned::select(packed({16384}, 2, 8), 9, 0);
  EXPECT_EQ(s.fused_fwd.source, qla_tuned::Source::kNearest);
  EXPECT_EQ(s.fused_fwd.point(), (Point{64, 128, 3, 8, 0}));  // 32K is one doubling away, 4K two
  EXPECT_DOUBLE_EQ(s.fused_fwd.distance, 1.0);
  gdn::Problem l2 = packed({4096}, 2, 8);
  l2.l2norm_qk = true;  // another key at distance 0
  gdn::Problem fixed;
  fixed.batch = 2;
  fixed.tokens = 4096;
  fixed.h_qk = 2;
  fixed.h_v = 8;
  for (const gdn::Problem& p :
       {packed({16384}, 2, 8), packed({3000, 1096}, 2, 8), packed({1}, 2, 8),
        packed({65536, 65536, 65536}, 2, 8), l2, fixed, packed({8192}, 16, 64)})
    expect_agree(fixture_h100(), p);
}

TEST_F(HeaderDispatch, SameArchThenDefault) {
  const auto s = qla_tuned::select(packed({2048}, 4, 16), 9, 0);
  EXPECT_EQ(s.fused_fwd.source,
            qla_tuned::Source::kSameArch);  // only the sibling H100 tuned (4, 16)
  EXPECT_EQ(s.fused_fwd.point(), (Point{64, 32, 2, 4, 0}));
  const auto unseen = qla_tuned::select(packed({4096}, 8, 32), 9, 0);
  EXPECT_EQ(unseen.fused_fwd.source, qla_tuned::Source::kDefault);
  EXPECT_EQ(unseen.fused_fwd.point(), gdn::fused_fwd_space().default_point);
  tuner::DeviceFingerprint turing = fixture_a100();
  turing.cc_major = 7;
  turing.cc_minor = 5;
  for (const gdn::Problem& p :
       {packed({2048}, 4, 16), packed({4096}, 8, 32), packed({4096}, 2, 8)}) {
    expect_agree(fixture_h100(), p);
    expect_agree(fixture_a100(), p);
    expect_agree(turing, p);  // no table at all: every kernel on its default
  }
}

#endif  // QLA_HAVE_GOLDEN_HEADER

// ---- bad input

TEST(HeaderErrors, ScopesWithoutRowsAreUserErrors) {
  TempDir dir;
  build_fixture_store(dir.file("fixture.sqlite"));
  const std::string db = dir.file("fixture.sqlite");
  EXPECT_THROW(make_header(db, fixture_h200().digest()),
               UserError);  // in the store, only a compile error
  EXPECT_THROW(make_header(db, "0123456789abcdef"), UserError);  // not in the store
  EXPECT_THROW(make_header(db, "", "sm_100"), UserError);  // a real arch the store never tuned
  EXPECT_THROW(make_header(db, "", "sm_99"), UserError);   // not an arch
  EXPECT_THROW(make_header(db, "", "banana"), UserError);
  EXPECT_THROW(make_header(db, fixture_h100().digest(), "sm_90"), UserError);  // exclusive
  // The device scope works and keeps the sibling as same-arch fallback, without the A100's table.
  const auto h = make_header(db, fixture_h100().digest());
  EXPECT_EQ(h.rows, 8u);  // 4 fused (1 sibling), 1 kkt, 1 unfused, 2 plan
  EXPECT_NE(h.text.find("(same arch)"), std::string::npos);
  EXPECT_EQ(h.text.find("A100"), std::string::npos);
  EXPECT_EQ(tuner::parse_arch("sm_90a"), (std::pair<int, int>{9, 0}));
  EXPECT_EQ(tuner::parse_arch("12.0"), (std::pair<int, int>{12, 0}));
  EXPECT_EQ(tuner::parse_arch("100"), (std::pair<int, int>{10, 0}));
}

int run_qla(const std::string& args) {
  const std::string cmd = std::string(QLA_EXE) + " header " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(HeaderCli, BadInputExitsTwoAndWritesNothing) {
  TempDir dir;
  const std::string db = dir.file("fixture.sqlite");
  build_fixture_store(db);
  const std::string out = dir.file("tuned.hpp");
  EXPECT_EQ(run_qla("--db " + dir.file("missing.sqlite") + " -o " + out), 2);
  EXPECT_EQ(run_qla("--db " + db + " --arch sm_99 -o " + out), 2);
  EXPECT_EQ(run_qla("--db " + db + " --arch sm_100 -o " + out), 2);
  EXPECT_EQ(run_qla("--db " + db + " --device " + fixture_h200().digest() + " -o " + out), 2);
  EXPECT_EQ(run_qla("--db " + db + " --device ffffffffffffffff -o " + out), 2);
  EXPECT_EQ(run_qla("--db " + db + " --arch sm_90 -o " + dir.file("no/such/dir/tuned.hpp")), 2);
  EXPECT_FALSE(fs::exists(out));
  // A file already there is left exactly as it was by a failing run.
  spit(out, "previous header\n");
  EXPECT_EQ(run_qla("--db " + db + " --arch sm_75 -o " + out), 2);
  EXPECT_EQ(slurp(out), "previous header\n");
  // And replaced whole by a good one, with no temporary left behind.
  EXPECT_EQ(run_qla("--db " + db + " -o " + out), 0);
  EXPECT_EQ(slurp(out), make_header(db, "", "", db).text);
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace qla::header_test
