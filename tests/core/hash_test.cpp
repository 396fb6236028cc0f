// The project's one hash: FNV-1a 64 with the project's own offset basis (qla/hash.hpp says why),
// the values every stored identity depends on, and the field / u64 framings.
#include "qla/hash.hpp"

#include <gtest/gtest.h>

namespace qla {
namespace {

TEST(Fnv1a, TheValuesStoredIdentitiesDependOn) {
  EXPECT_EQ(Fnv1a().value(), 0x14650fb0739d0383ull);  // the offset basis
  EXPECT_EQ(Fnv1a().bytes("a", 1).value(), 0x44bd8ad473cd9906ull);
  EXPECT_EQ(Fnv1a().bytes("foobar", 6).value(), 0x88fad7c0a8ff07f2ull);
}

TEST(Fnv1a, FieldsAndIntegersAreFramed) {
  // A field is its bytes then 0xff: "ab" + "c" differs from "a" + "bc".
  EXPECT_NE(Fnv1a().field("ab").field("c").value(), Fnv1a().field("a").field("bc").value());
  const unsigned char ff = 0xff;
  EXPECT_EQ(Fnv1a().field("ab").value(), Fnv1a().bytes("ab", 2).bytes(&ff, 1).value());
  // u64 mixes the 8 bytes least significant first.
  const unsigned char le[8] = {0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(Fnv1a().u64(0x0102030405060708ull).value(), Fnv1a().bytes(le, 8).value());
}

TEST(Hex64, SixteenLowercaseDigits) {
  EXPECT_EQ(hex64(0), "0000000000000000");
  EXPECT_EQ(hex64(0x14650fb0739d0383ull), "14650fb0739d0383");
}

}  // namespace
}  // namespace qla
