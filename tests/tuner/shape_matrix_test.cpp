// The bench's shape matrix and flag selection against FlashQLA's benchmark matrix and
// the headline subset.
#include "qla/tuner/shape_matrix.hpp"

#include <gtest/gtest.h>

#include <set>

#include "qla/error.hpp"
#include "qla/tuner/suites.hpp"

namespace qla::tuner {
namespace {

TEST(ShapeMatrix, ForwardMatrixIsFlashQlasNineHeadsByNineteenSets) {
  ASSERT_EQ(forward_heads().size(), 9u);
  ASSERT_EQ(forward_seqs().size(), 19u);
  std::set<std::string> names;
  for (const SeqSet& s : forward_seqs()) {
    names.insert(s.name);
    // Every forward set is 32K, 16K, 8K, 4K or 2K tokens in total.
    EXPECT_TRUE(s.tokens() == 32768 || s.tokens() == 16384 || s.tokens() == 8192 ||
                s.tokens() == 4096 || s.tokens() == 2048)
        << s.name << " " << s.tokens();
  }
  EXPECT_EQ(names.size(), 19u) << "set names must be unique";
  for (const HeadConfig& h : forward_heads()) EXPECT_EQ(h.h_v % h.h_qk, 0) << h.name();
  EXPECT_EQ(forward_heads()[0].name(), "2x8");
  EXPECT_EQ(forward_heads()[8].name(), "32x32");
}

TEST(ShapeMatrix, SetNamesDescribeTheirLengths) {
  auto lens = [](const std::string& name) { return select_seqs(name).at(0).seqlens; };
  EXPECT_EQ(lens("8192x4"), (std::vector<std::int64_t>{8192, 8192, 8192, 8192}));
  EXPECT_EQ(lens("1x32768"), (std::vector<std::int64_t>{32768}));
  EXPECT_EQ(lens("1024+7168"), (std::vector<std::int64_t>{1024, 7168}));
  EXPECT_EQ(lens("1024x8"), (std::vector<std::int64_t>(8, 1024)));
  EXPECT_EQ(lens("28672+4096"), (std::vector<std::int64_t>{28672, 4096}));
}

TEST(ShapeMatrix, HeadlineIsAnchorsTable) {
  std::vector<std::string> heads, seqs;
  for (const HeadConfig& h : select_heads("headline")) heads.push_back(h.name());
  for (const SeqSet& s : select_seqs("headline")) seqs.push_back(s.name);
  EXPECT_EQ(heads, (std::vector<std::string>{"2x8", "4x16", "8x32", "16x64", "16x32"}));
  EXPECT_EQ(seqs, (std::vector<std::string>{"1x2048", "1x8192", "1x32768", "8192x4"}));
  EXPECT_EQ(cross(select_heads("headline"), select_seqs("headline")).size(), 20u);
  EXPECT_EQ(cross(select_heads("all"), select_seqs("all")).size(), 9u * 19u);
}

TEST(ShapeMatrix, BackwardSetsSumToTheirTotals) {
  ASSERT_EQ(backward_seqs().size(), 8u);
  ASSERT_EQ(backward_heads().size(), 4u);
  for (const SeqSet& s : backward_seqs()) {
    const std::int64_t want = s.name.rfind("8K", 0) == 0 ? 8192 : 32768;
    EXPECT_EQ(s.tokens(), want) << s.name;
    const std::size_t n = static_cast<std::size_t>(std::stoi(s.name.substr(s.name.find('(') + 1)));
    EXPECT_EQ(s.seqlens.size(), n) << s.name;
  }
}

TEST(ShapeMatrix, ExplicitSelections) {
  const auto heads = select_heads("16x64,2x8");
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].model, "397B/122B TP1");
  EXPECT_EQ(heads[1].h_v, 8);
  EXPECT_EQ(select_heads("4x12")[0].model, "custom");
  const auto seqs = select_seqs("4096+4096,8K(2)");
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_EQ(seqs[1].seqlens, (std::vector<std::int64_t>{7053, 1139}));
  const auto shapes = cross(heads, seqs);
  ASSERT_EQ(shapes.size(), 4u);
  EXPECT_EQ(shapes[0].name(), "16x64/4096+4096");
  EXPECT_EQ(shapes[3].name(), "2x8/8K(2)");
}

TEST(ShapeMatrix, BadSelectionsNameTheFlag) {
  for (const char* bad : {"3x8", "2x", "x8", "2x8x", "0x8", ""}) {
    try {
      select_heads(bad);
      ADD_FAILURE() << "accepted --heads " << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("--heads"), std::string::npos) << e.what();
    }
  }
  try {
    select_seqs("1x8192,1x9999");
    ADD_FAILURE() << "accepted an unknown set";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--seqs: unknown sequence set '1x9999'"),
              std::string::npos)
        << e.what();
  }
}

TEST(ShapeMatrix, ForwardProblemIsTheGenerateCommandsProblem) {
  const Shape s{select_heads("8x32")[0], select_seqs("28672+4096")[0]};
  const gdn::Problem p = forward_problem(s);
  EXPECT_EQ(p.batch, 1);
  EXPECT_EQ(p.tokens, 32768);
  EXPECT_EQ(p.cu_seqlens, (std::vector<std::int64_t>{0, 28672, 32768}));
  EXPECT_EQ(p.h_qk, 8);
  EXPECT_EQ(p.h_v, 32);
  EXPECT_EQ(p.k_dim, 128);
  EXPECT_EQ(p.v_dim, 128);
  EXPECT_EQ(p.qkv_dtype, DType::kBF16);
  EXPECT_EQ(p.gate_dtype, DType::kF32);
  EXPECT_EQ(p.beta_dtype, DType::kF32);
  EXPECT_TRUE(p.initial_state);
  EXPECT_TRUE(p.final_state);
  EXPECT_FALSE(p.l2norm_qk);
  EXPECT_EQ(p.num_sequences(), 2);
  EXPECT_EQ(p.valid_tokens(), 32768);
}

}  // namespace
}  // namespace qla::tuner

namespace qla::tuner {
namespace {

TEST(Suites, ComeFromTheShapeMatrix) {
  EXPECT_EQ(suite_problems("qwen35-fwd").size(), forward_heads().size() * forward_seqs().size());
  const auto headline = suite_problems("headline");
  ASSERT_EQ(headline.size(), 20u);
  EXPECT_EQ(headline.front().label(),
            forward_problem(cross(headline_heads(), headline_seqs()).front()).label());
  EXPECT_THROW(suite_problems("nope"), UserError);
}

}  // namespace
}  // namespace qla::tuner
