#include "qla/tuner/shape_matrix.hpp"

#include <sstream>

#include "qla/error.hpp"

namespace qla::tuner {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

SeqSet repeated(std::int64_t len, int count) {
  SeqSet s;
  s.name =
      count == 1 ? "1x" + std::to_string(len) : std::to_string(len) + "x" + std::to_string(count);
  s.seqlens.assign(static_cast<std::size_t>(count), len);
  return s;
}

SeqSet mix(std::vector<std::int64_t> lens) {
  SeqSet s;
  for (std::size_t i = 0; i < lens.size(); ++i) s.name += (i ? "+" : "") + std::to_string(lens[i]);
  s.seqlens = std::move(lens);
  return s;
}

}  // namespace

std::string HeadConfig::name() const { return std::to_string(h_qk) + "x" + std::to_string(h_v); }

std::int64_t SeqSet::tokens() const {
  std::int64_t t = 0;
  for (std::int64_t l : seqlens) t += l;
  return t;
}

std::string Shape::name() const { return heads.name() + "/" + seqs.name; }

const std::vector<HeadConfig>& forward_heads() {
  static const std::vector<HeadConfig> heads = {
      {2, 8, "397B/122B TP8"},   {4, 16, "397B/122B TP4"},  {8, 32, "397B/122B TP2"},
      {16, 64, "397B/122B TP1"}, {16, 32, "35B/9B/4B TP1"}, {8, 24, "27B TP2"},
      {16, 48, "27B TP1"},       {16, 16, "2B/0.8B TP1"},   {32, 32, "Sym h32"}};
  return heads;
}

const std::vector<SeqSet>& forward_seqs() {
  static const std::vector<SeqSet> seqs = {
      repeated(32768, 1), repeated(16384, 1), repeated(8192, 1),  repeated(4096, 1),
      repeated(2048, 1),  mix({28672, 4096}), mix({24576, 8192}), mix({16384, 16384}),
      mix({8192, 24576}), mix({4096, 28672}), mix({12288, 4096}), mix({6144, 2048}),
      mix({4096, 4096}),  mix({2048, 6144}),  mix({1024, 7168}),  repeated(8192, 4),
      repeated(4096, 8),  repeated(2048, 4),  repeated(1024, 8)};
  return seqs;
}

const std::vector<HeadConfig>& headline_heads() {
  static const std::vector<HeadConfig> heads(forward_heads().begin(), forward_heads().begin() + 5);
  return heads;
}

const std::vector<SeqSet>& headline_seqs() {
  static const std::vector<SeqSet> seqs = {repeated(2048, 1), repeated(8192, 1), repeated(32768, 1),
                                           repeated(8192, 4)};
  return seqs;
}

const std::vector<HeadConfig>& backward_heads() {
  static const std::vector<HeadConfig> heads = {
      {16, 32, "35B/9B/4B TP1"}, {8, 16, "bwd 8/16"}, {4, 8, "bwd 4/8"}, {2, 4, "bwd 2/4"}};
  return heads;
}

const std::vector<SeqSet>& backward_seqs() {
  // Split points of torch.randperm(T - 1, generator seed 42), as FlashQLA's benchmark draws them.
  static const std::vector<SeqSet> seqs = {
      {"8K(1)", {8192}},
      {"8K(2)", {7053, 1139}},
      {"8K(4)", {5809, 1244, 406, 733}},
      {"8K(8)", {161, 1928, 3157, 563, 1244, 229, 177, 733}},
      {"32K(1)", {32768}},
      {"32K(2)", {7212, 25556}},
      {"32K(4)", {7212, 7072, 13725, 4759}},
      {"32K(8)", {3274, 1029, 2909, 5061, 2011, 3793, 9932, 4759}}};
  return seqs;
}

std::vector<HeadConfig> select_heads(const std::string& flag) {
  if (flag == "headline") return headline_heads();
  if (flag == "all") return forward_heads();
  std::vector<HeadConfig> out;
  for (const std::string& item : split_commas(flag)) {
    int h_qk = 0, h_v = 0;
    char x = 0, rest = 0;
    std::istringstream in(item);
    in >> h_qk >> x >> h_v;
    QLA_REQUIRE(in && x == 'x' && !(in >> rest) && h_qk > 0 && h_v > 0,
                "--heads: '" << item << "' is not H_qkxH_v (e.g. 2x8), 'headline' or 'all'");
    QLA_REQUIRE(h_v % h_qk == 0, "--heads: " << item << ": H_v must be a multiple of H_qk");
    HeadConfig h{h_qk, h_v, "custom"};
    for (const HeadConfig& known : forward_heads()) {
      if (known.h_qk == h_qk && known.h_v == h_v) h.model = known.model;
    }
    out.push_back(h);
  }
  QLA_REQUIRE(!out.empty(), "--heads: no head configuration given");
  return out;
}

std::vector<SeqSet> select_seqs(const std::string& flag) {
  if (flag == "headline") return headline_seqs();
  if (flag == "all") return forward_seqs();
  std::vector<SeqSet> out;
  for (const std::string& item : split_commas(flag)) {
    bool found = false;
    for (const std::vector<SeqSet>* table : {&forward_seqs(), &backward_seqs()}) {
      for (const SeqSet& s : *table) {
        if (!found && s.name == item) {
          out.push_back(s);
          found = true;
        }
      }
    }
    if (!found) {
      std::ostringstream known;
      for (const SeqSet& s : forward_seqs()) known << ' ' << s.name;
      for (const SeqSet& s : backward_seqs()) known << ' ' << s.name;
      throw UserError("--seqs: unknown sequence set '" + item + "' (known: headline all" +
                      known.str() + ")");
    }
  }
  QLA_REQUIRE(!out.empty(), "--seqs: no sequence set given");
  return out;
}

std::vector<Shape> cross(const std::vector<HeadConfig>& heads, const std::vector<SeqSet>& seqs) {
  std::vector<Shape> out;
  for (const HeadConfig& h : heads) {
    for (const SeqSet& s : seqs) out.push_back({h, s});
  }
  return out;
}

gdn::Problem forward_problem(const Shape& shape) {
  gdn::Problem p;
  p.batch = 1;
  p.cu_seqlens.push_back(0);
  for (std::int64_t len : shape.seqs.seqlens) p.cu_seqlens.push_back(p.cu_seqlens.back() + len);
  p.tokens = p.cu_seqlens.back();
  p.h_qk = shape.heads.h_qk;
  p.h_v = shape.heads.h_v;
  p.k_dim = 128;
  p.v_dim = 128;
  p.qkv_dtype = DType::kBF16;
  p.gate_dtype = DType::kF32;
  p.beta_dtype = DType::kF32;
  p.initial_state = true;
  p.final_state = true;
  p.l2norm_qk = false;
  p.validate();
  return p;
}

}  // namespace qla::tuner
