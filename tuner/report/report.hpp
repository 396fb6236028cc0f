// `qla report`: the comparison users of GDN kernels look for, from what was measured.
//
// Inputs, all JSON:
//  * bench documents (schema "qla.bench.v1"): qla's own bench (implementations "qla-tuned",
//  "qla-default",
//    "naive", "unfused", with the card's measured copy/matmul ceilings) and bench/fla_bench.py
//    ("fla"); a document that names a comparison set ("set") pairs only with that set's others;
//  * published documents (results/published/*.json): other systems' numbers, each row labelled with
//  its card;
//  * the tuning store's export (Store::export_json()).
// Output: one Markdown page (tables never depend on Python), plus a JSON digest that
// scripts/plot_report.py turns into PNG plots where matplotlib is importable.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "report_data.hpp"

namespace qla::report {

/// Checks a correctness record (schema qla.validation.v1); throws UserError naming `path` when it
/// is not one.
void check_validation_record(const nlohmann::json& doc, const std::string& path);

/// Checks a chunk-step record (schema qla.chunk_step.v1); throws UserError naming `path` when it is
/// not one.
void check_chunk_step_record(const nlohmann::json& doc, const std::string& path);

/// Reads bench and published documents and a store export; throws UserError naming a bad file.
ReportData load_report_data(const std::vector<std::string>& bench_files,
                            const std::vector<std::string>& published_files,
                            const std::optional<nlohmann::json>& store_export,
                            std::string git_commit);

/// Bytes of the operator's compulsory traffic (inputs once, outputs once; bf16 data, fp32
/// g/β/states).
double compulsory_bytes(const Shape& s);
/// FLOPs of the fused forward (9.44 MFLOP per chunk-head at C = 64, K = V = 128) plus kkt_solve's
/// KKᵀ.
double forward_flops(const Shape& s);

/// The Markdown page.
std::string render_markdown(const ReportData& d);
/// The digest scripts/plot_report.py reads.
nlohmann::json plot_digest(const ReportData& d);

/// "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3".
std::string slug(const std::string& gpu);

}  // namespace qla::report
