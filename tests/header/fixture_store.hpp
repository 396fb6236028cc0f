// The fixture store of the header tests: a few tuned problems of the real GDN kernel families on
// two sm_90 devices and one sm_80 device, built through the tuner's Store API, with fixed
// timestamps so that the header generated from it is byte-for-byte reproducible (the golden file
// and the example's header come from it).
#pragma once

#include <string>
#include <vector>

#include "qla/gdn/problem.hpp"
#include "qla/tuner/fingerprint.hpp"

namespace qla::header_test {

/// The devices of the fixture: the primary H100, a sibling H100 (other driver, same sm_90), an A100
/// (sm_80).
tuner::DeviceFingerprint fixture_h100();
tuner::DeviceFingerprint fixture_h100_sibling();
tuner::DeviceFingerprint fixture_a100();
/// An sm_90 device whose only trial failed to compile (in the store, no tuned rows).
tuner::DeviceFingerprint fixture_h200();

/// Packed varlen problem (B = 1) of `lengths` tokens, heads (h_qk, h_v), K = V = 128, bf16, h0
/// given.
gdn::Problem packed(const std::vector<std::int64_t>& lengths, int h_qk, int h_v);

/// Writes the fixture into a new store at `path` (which must not exist).
void build_fixture_store(const std::string& path);

/// An empty (schema only) store at `path`.
void build_empty_store(const std::string& path);

}  // namespace qla::header_test
