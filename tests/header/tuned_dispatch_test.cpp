// qla/tuned_dispatch.hpp on hand-made tables: the lookup order a deployment's select() follows
// (exact, nearest of the class in log space, the same capability's other devices, the default), its
// tie rule, and what makes a class (heads, dims and the q/k/v dtype).
#include "qla/tuned_dispatch.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace qla_tuned {
namespace {

// Equal lengths unless `longest` says otherwise.
Bucket bucket(std::int64_t tokens, std::int64_t sequences, const char* key,
              qla::DType dtype = qla::DType::kBF16, std::int64_t longest = 0) {
  return {2,  8, 128, 128, dtype, tokens, sequences, longest > 0 ? longest : tokens / sequences,
          key};
}

Query query(std::int64_t tokens, std::int64_t sequences, std::string key,
            qla::DType dtype = qla::DType::kBF16, std::int64_t longest = 0) {
  Query q;
  q.h_qk = 2;
  q.h_v = 8;
  q.dtype = dtype;
  q.tokens = tokens;
  q.sequences = sequences;
  q.longest = longest > 0 ? longest : tokens / sequences;
  q.key = std::move(key);
  return q;
}

constexpr int kDefault[1] = {0};

TEST(TunedDispatch, ExactThenNearestInLogSpaceThenDefault) {
  const std::array<Row<1>, 3> rows = {{
      {bucket(4096, 1, "a"), false, {1}, 10.0, 12.0},
      {bucket(32768, 1, "b"), false, {2}, 50.0, 60.0},
      {bucket(8192, 4, "c"), false, {3}, 30.0, 0.0},
  }};
  const Choice<1> exact = detail::find(rows, query(32768, 1, "b"), kDefault);
  EXPECT_EQ(exact.source, Source::kExact);
  EXPECT_EQ(exact.values[0], 2);
  EXPECT_DOUBLE_EQ(exact.measured_us, 50.0);
  const Choice<1> near =
      detail::find(rows, query(16384, 1, "x"), kDefault);  // 1 doubling from b, 2 from a
  EXPECT_EQ(near.source, Source::kNearest);
  EXPECT_EQ(near.values[0], 2);
  EXPECT_DOUBLE_EQ(near.distance, 1.0);
  EXPECT_STREQ(near.problem, "b");
  const Choice<1> none = detail::find(std::array<Row<1>, 0>{}, query(4096, 1, "a"), kDefault);
  EXPECT_EQ(none.source, Source::kDefault);
  EXPECT_EQ(none.values[0], 0);
  EXPECT_STREQ(source_name(none.source), "default");
}

TEST(TunedDispatch, AQueryExactlyBetweenTwoRowsTakesTheEarlier) {
  const std::array<Row<1>, 2> rows = {{
      {bucket(4096, 1, "a"), false, {1}, 10.0, 0.0},
      {bucket(16384, 1, "b"), false, {2}, 20.0, 0.0},
  }};
  const Choice<1> c = detail::find(rows, query(8192, 1, "mid"), kDefault);
  EXPECT_EQ(c.values[0], 1) << "ties keep the earlier row";
  EXPECT_DOUBLE_EQ(c.distance, 1.0);
  // An exact key beats a different problem at the same distance (a packed and a fixed batch can
  // share sizes).
  const std::array<Row<1>, 2> same_size = {{
      {bucket(8192, 1, "other"), false, {1}, 10.0, 0.0},
      {bucket(8192, 1, "mine"), false, {2}, 20.0, 0.0},
  }};
  EXPECT_EQ(detail::find(same_size, query(8192, 1, "mine"), kDefault).values[0], 2);
}

TEST(TunedDispatch, AnUnevenBatchFindsTheUnevenRowOfItsSize) {
  // Two sequences, 32768 tokens: the even row and the one whose longest sequence is 7/8 of them
  // are equally near by tokens and sequences; the fill (tokens / (sequences x longest)) parts them.
  const std::array<Row<1>, 2> rows = {{
      {bucket(32768, 2, "even"), false, {1}, 10.0, 0.0},
      {bucket(32768, 2, "uneven", qla::DType::kBF16, 28672), false, {2}, 20.0, 0.0},
  }};
  const Choice<1> c = detail::find(rows, query(32768, 2, "x", qla::DType::kBF16, 30000), kDefault);
  EXPECT_EQ(c.values[0], 2);
  EXPECT_NEAR(c.distance, std::log2(30000.0 / 28672.0), 1e-12);
  EXPECT_EQ(detail::find(rows, query(32768, 2, "y"), kDefault).values[0], 1);
  // A query that leaves the longest sequence unset is taken as even.
  Query unset = query(32768, 2, "z");
  unset.longest = 0;
  EXPECT_EQ(detail::find(rows, unset, kDefault).values[0], 1);
}

TEST(TunedDispatch, TheDtypeIsPartOfTheClass) {
  const std::array<Row<1>, 2> rows = {{
      {bucket(4096, 1, "a-f16", qla::DType::kF16), false, {1}, 10.0, 0.0},
      {bucket(65536, 1, "b"), false, {2}, 20.0, 0.0},
  }};
  EXPECT_EQ(detail::find(rows, query(4096, 1, "a"), kDefault).values[0], 2)
      << "an fp16 row served a bf16 query";
  EXPECT_EQ(detail::find(rows, query(4096, 1, "a", qla::DType::kF16), kDefault).values[0], 1);
  EXPECT_EQ(detail::find(rows, query(4096, 1, "a", qla::DType::kF32), kDefault).source,
            Source::kDefault);
}

TEST(TunedDispatch, TheSameCapabilitysOtherDevicesComeAfterThePrimary) {
  const std::array<Row<1>, 2> rows = {{
      {bucket(4096, 1, "a"), true, {1}, 10.0, 0.0},    // exact, but measured on a sibling device
      {bucket(65536, 1, "b"), false, {2}, 20.0, 0.0},  // far, but the primary device's
  }};
  const Choice<1> c = detail::find(rows, query(4096, 1, "a"), kDefault);
  EXPECT_EQ(c.values[0], 2);
  EXPECT_EQ(c.source, Source::kNearest);
  const std::array<Row<1>, 1> sibling_only = {{{bucket(4096, 1, "a"), true, {1}, 10.0, 0.0}}};
  EXPECT_EQ(detail::find(sibling_only, query(4096, 1, "a"), kDefault).source, Source::kSameArch);
}

TEST(TunedDispatch, TheProblemKeyIsTheTunersOnFixedAndPackedBatches) {
  qla::gdn::Problem fixed;
  fixed.batch = 2;
  fixed.tokens = 4096;
  fixed.h_qk = 2;
  fixed.h_v = 8;
  const Query q = query_of(fixed);
  EXPECT_EQ(q.tokens, 8192);
  EXPECT_EQ(q.sequences, 2);
  EXPECT_EQ(q.longest, 4096);
  EXPECT_EQ(q.key.find(':'), std::string::npos);
  qla::gdn::Problem packed = fixed;
  packed.batch = 1;
  packed.cu_seqlens = {0, 100, 4096};
  packed.initial_state = true;
  EXPECT_NE(problem_key(packed).find(".h0:100,3996"), std::string::npos) << problem_key(packed);
  EXPECT_EQ(query_of(packed).longest, 3996);
}

}  // namespace
}  // namespace qla_tuned
