#include "fixture_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cinttypes>
#include <cstdio>

#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_ws.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/plan.hpp"
#include "qla/gdn/unfused.hpp"
#include "qla/tuner/store.hpp"

namespace qla::header_test {
namespace {

using tuner::DeviceFingerprint;
using tuner::KernelIdentity;
using tuner::Store;

constexpr const char* kSource = "fixture-src-1";
constexpr const char* kOldSource = "fixture-src-0";

std::string space_hash(const SpaceDecl& s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, s.hash());
  return buf;
}

KernelIdentity identity(const SpaceDecl& s, const char* source = kSource) {
  return {s.kernel, source, space_hash(s)};
}

void put(Store& st, const DeviceFingerprint& dev, const SpaceDecl& space, const gdn::Problem& p,
         const Point& v, double us, tuner::TrialStatus status = tuner::TrialStatus::kOk,
         const char* source = kSource) {
  tuner::TrialRecord t;
  t.kernel = identity(space, source);
  t.problem = p;
  t.values = v;
  t.config = space.label(v);
  t.result.status = status;
  t.result.time = {us, us * 0.99, us * 1.02, 12, 0.004};
  st.put_trial(dev, t);
}

}  // namespace

DeviceFingerprint fixture_h100() {
  DeviceFingerprint d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.cc_major = 9;
  d.cc_minor = 0;
  d.sm_count = 132;
  d.l2_bytes = 52428800;
  d.mem_clock_khz = 2619000;
  d.mem_bus_bits = 5120;
  d.driver_version = 13000;
  d.runtime_version = 12080;
  d.nvrtc_version = 12080;
  return d;
}

DeviceFingerprint fixture_h100_sibling() {
  DeviceFingerprint d = fixture_h100();
  d.driver_version = 12080;
  return d;
}

DeviceFingerprint fixture_h200() {
  DeviceFingerprint d = fixture_h100();
  d.name = "NVIDIA H200";
  d.sm_count = 132;
  d.l2_bytes = 62914560;
  d.mem_clock_khz = 3201000;
  return d;
}

DeviceFingerprint fixture_a100() {
  DeviceFingerprint d;
  d.name = "NVIDIA A100-SXM4-80GB";
  d.cc_major = 8;
  d.cc_minor = 0;
  d.sm_count = 108;
  d.l2_bytes = 41943040;
  d.mem_clock_khz = 1593000;
  d.mem_bus_bits = 5120;
  d.driver_version = 13000;
  d.runtime_version = 12080;
  d.nvrtc_version = 12080;
  return d;
}

gdn::Problem packed(const std::vector<std::int64_t>& lengths, int h_qk, int h_v) {
  gdn::Problem p;
  p.batch = 1;
  p.cu_seqlens = {0};
  for (auto n : lengths) p.cu_seqlens.push_back(p.cu_seqlens.back() + n);
  p.tokens = p.cu_seqlens.back();
  p.h_qk = h_qk;
  p.h_v = h_v;
  p.initial_state = true;
  p.final_state = true;
  return p;
}

void build_fixture_store(const std::string& path) {
  {
    Store st = Store::open(path, Store::Mode::kReadWrite);
    const SpaceDecl& ff = gdn::fused_fwd_space();
    const SpaceDecl& ws = gdn::fused_fwd_ws_space();
    const SpaceDecl& kk = gdn::kkt_solve_space();
    const SpaceDecl& un = gdn::unfused_space();
    const auto h100 = fixture_h100(), sib = fixture_h100_sibling(), a100 = fixture_a100();
    const gdn::Problem p4k = packed({4096}, 2, 8), p32k = packed({32768}, 2, 8),
                       p8k2 = packed({8192, 8192}, 16, 64), p8k = packed({8192}, 4, 16);
    // fused_fwd on the primary H100: best trial beats the default (P4K), a decided winner (P32K), a
    // row whose default was never measured (P8K2), and an invalid trial faster than everything
    // (never a row).
    put(st, h100, ff, p4k, {64, 32, 2, 8, 0}, 40.0);
    put(st, h100, ff, p4k, ff.default_point, 48.0);
    put(st, h100, ff, p4k, {32, 32, 1, 4, 1}, 1.0, tuner::TrialStatus::kInvalid);
    put(st, h100, ff, p32k, {64, 128, 3, 8, 0}, 300.0);
    put(st, h100, ff, p32k, ff.default_point, 380.0);
    put(st, h100, ff, p32k, {64, 64, 1, 4, 0}, 420.0);
    st.put_winner(h100, identity(ff), p32k,
                  {ff.label({64, 128, 3, 8, 0}), {64, 128, 3, 8, 0}, 298.5, 379.25}, 0);
    put(st, h100, ws, p8k2, {64, 128, 2, 8, 24},
        500.0);  // warp-specialised, not built ahead of time
    // An older kernel source on the same device: faster, but not comparable with the current code.
    put(st, h100, ff, p4k, {32, 128, 1, 4, 0}, 10.0, tuner::TrialStatus::kOk, kOldSource);
    // The sibling H100 (same sm_90) tuned a class the primary did not; the A100 tuned P4K.
    put(st, sib, ff, p8k, {64, 32, 2, 4, 0}, 90.0);
    put(st, a100, ff, p4k, {64, 32, 1, 4, 0}, 80.0);
    // An H200 whose only trial failed to compile: in the store, but with no rows.
    put(st, fixture_h200(), ff, p4k, {64, 128, 3, 8, 1}, 0.0, tuner::TrialStatus::kCompileError);
    // kkt_solve and the unfused baseline on the primary; state_pass never tuned (its default
    // stays).
    put(st, h100, kk, p32k, {64, 32, 8, 0, 0}, 20.0);
    put(st, h100, kk, p32k, kk.default_point, 25.0);
    put(st, h100, un, p4k, {64, 4, 64}, 100.0);
    put(st, h100, un, p4k, un.default_point, 120.0);
    // The op plan: C = 32 on P4K, where the fused and kkt rows are at C = 64 (rows of per-kernel
    // tuning that the deployment must not mix with this plan), and C = 64 with CP on P32K.
    const SpaceDecl& pl = gdn::fwd_plan_space();
    put(st, h100, pl, p4k, {32, 0, 0, 10, 1, 0}, 39.0);
    put(st, h100, pl, p4k, pl.default_point, 47.0);
    put(st, h100, pl, p32k, {64, 1, 16, 10, 1, 0}, 280.0);
  }
  // The store stamps trials with the wall clock; the fixture pins them (oldest source first) so
  // that the header's "newest trial" is reproducible.
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec(
      "UPDATE trials SET created_at = printf('2026-11-%02dT10:00:%02d.000Z', 10 + (id % 7), id % "
      "60)");
  db.exec(
      "UPDATE trials SET created_at = '2026-10-01T00:00:00.000Z' WHERE source_hash = "
      "'fixture-src-0'");
  db.exec("UPDATE winners SET decided_at = '2026-11-20T12:00:00.000Z'");
}

void build_empty_store(const std::string& path) { Store::open(path, Store::Mode::kReadWrite); }

}  // namespace qla::header_test
