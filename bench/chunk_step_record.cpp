#include "chunk_step_record.hpp"

#include <fstream>
#include <tuple>

#include "bench_document.hpp"
#include "qla/error.hpp"

namespace qla::bench {

using nlohmann::json;

json to_json(const ChunkStepRow& r) {
  json roles = json::object();
  json order = json::array();
  for (const auto& [role, phases] : r.roles) {
    json p = json::object();
    json names = json::array();
    for (const auto& [name, cycles] : phases) {
      p[name] = cycles;
      names.push_back(name);
    }
    roles[role] = {{"phase_order", names}, {"cycles_per_chunk", p}};
    order.push_back(role);
  }
  return {{"h_qk", r.h_qk},       {"h_v", r.h_v},       {"tokens", r.tokens},
          {"pass", r.pass},       {"stages", r.stages}, {"operands", r.operands},
          {"ctas", r.ctas},       {"waves", r.waves},   {"kernel_ms", r.kernel_ms},
          {"step_us", r.step_us}, {"sm_mhz", r.sm_mhz}, {"warm_ms", r.warm_ms},
          {"role_order", order},  {"roles", roles}};
}

void append_chunk_step_rows(const std::string& path, const ChunkStepContext& ctx,
                            const std::vector<ChunkStepRow>& rows) {
  json doc;
  if (std::ifstream in(path); in) {
    doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
    const bool same = doc.is_object() && doc.value("schema", "") == "qla.chunk_step.v1" &&
                      doc.contains("device") && doc["device"].is_object() &&
                      doc["device"].value("name", "") == ctx.device &&
                      doc.value("git_commit", "") == ctx.git_commit && doc.contains("rows") &&
                      doc["rows"].is_array();
    if (!same) doc = json();
  }
  if (doc.is_null())
    doc = {
        {"schema", "qla.chunk_step.v1"},
        {"device", {{"name", ctx.device}, {"sm_count", ctx.sm_count}}},
        {"git_commit", ctx.git_commit},
        {"method",
         "qla_chunk_step_profile: gdn.fused_fwd_wgmma instantiated with a clock64() cycle probe "
         "per loop phase, synthetic inputs of one sequence, 2·H_v CTAs; untimed launches for "
         "warm_ms first (the card at its sustained clock), then kernel time = CUDA-event mean of "
         "the timed launches, chunk step = kernel time / (chunks · waves); cycles per chunk "
         "averaged over the CTAs; SM clock = the state loops' clock64() cycles over their "
         "%globaltimer nanoseconds"},
        {"rows", json::array()}};
  doc["date"] = ctx.date;
  auto key = [](const json& r) {
    return std::make_tuple(r.value("h_qk", 0), r.value("h_v", 0), r.value("tokens", 0LL),
                           r.value("pass", std::string("forward")), r.value("stages", 0),
                           r.value("operands", std::string()));
  };
  for (const ChunkStepRow& row : rows) {
    const json j = to_json(row);
    auto& all = doc["rows"];
    bool replaced = false;
    for (auto& r : all)
      if (key(r) == key(j)) {
        r = j;
        replaced = true;
      }
    if (!replaced) all.push_back(j);
  }
  write_text_atomically(path, doc.dump(1) + "\n", "--json");
}

}  // namespace qla::bench
