// Repeatability of tuning: the winners of two stores that tuned the same problems, side by side.
// Each winner both stores decided for one (device, kernel, source hash, space hash, problem) is a
// row: the two configs and medians, their spread, and each store's own measurement of the other's
// winner where it has one. Winners only one store holds are listed apart. What `qla db compare`
// prints and writes (schema "qla.repeatability.v1").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "qla/tuner/store.hpp"

namespace qla::tuner {

/// Schema of the document compare_winners() returns.
inline constexpr const char* kRepeatabilitySchema = "qla.repeatability.v1";
/// Relative distance under which two different winners count as the same result (3 %).
inline constexpr double kRepeatabilityTolerance = 0.03;

/// Verdicts of a row.
inline constexpr const char* kSameConfig = "same config";
inline constexpr const char* kWithinNoise = "within noise";
inline constexpr const char* kDiffers = "differs";

/// Compares the winners of two store exports (Store::export_json() documents, read from `path_a`
/// and `path_b`). One row per winner identity both hold, ordered by kernel, problem (then device
/// and hashes): config and median of each, `same_config`, `spread` = |a − b| / min(a, b), `a_on_b`
/// (store A's ok-trial median of B's winner config, null when A did not measure it), `b_on_a`
/// likewise, and the verdict: kSameConfig; kWithinNoise when the configs differ but the spread and
/// every cross measurement are within `tolerance` of that store's own winner
/// (a_on_b ≤ a·(1 + tolerance), b_on_a ≤ b·(1 + tolerance)); else kDiffers. Winners of one store
/// only go to `only_in_a` / `only_in_b`. UserError for a negative or non-finite tolerance, a
/// winner whose median is not a positive number, and stores with no winner in common.
nlohmann::json compare_winners(const nlohmann::json& export_a, const std::string& path_a,
                               const nlohmann::json& export_b, const std::string& path_b,
                               double tolerance = kRepeatabilityTolerance);

/// compare_winners() of two open stores.
nlohmann::json compare_stores(const Store& a, const Store& b,
                              double tolerance = kRepeatabilityTolerance);

/// A compare_winners() document as a fixed-width table (kernel, problem, winner A, its median,
/// winner B, its median, spread in %, verdict), then one summary line.
std::string repeatability_table(const nlohmann::json& doc);

}  // namespace qla::tuner
