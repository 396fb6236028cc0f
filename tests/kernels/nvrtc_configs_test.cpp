// NVRTC compiles every buildable config of every kernel family for sm_90a (no GPU needed) and
// reports registers, static shared memory and spills per config. Fails on any compile error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "qla/cuda/catalog_compile.hpp"
#include "qla/cuda/nvrtc_compiler.hpp"
#include "qla/error.hpp"

namespace qla::cuda {
namespace {

TEST(NvrtcConfigs, EveryBuildableConfigCompilesForSm90a) {
  const ArchInfo arch = ArchInfo::named("sm_90a");  // 227 KB opt-in smem, setmaxnreg, wgmma
  const std::vector<CatalogJob> jobs = catalog_jobs(arch);
  ASSERT_FALSE(jobs.empty()) << "no kernel family registered (is qla_kernels linked whole?)";
  const std::vector<CatalogOutcome> outcomes = compile_catalog(
      jobs, arch, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));

  std::printf("%-18s %-14s %5s %8s %7s %7s  %s\n", "family", "config", "regs", "smem", "spillS",
              "spillL", "kernel");
  int spills = 0, over_budget = 0, failed = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto& u = outcomes[i].usage;
    std::printf("%-18s %-14s %5d %8d %7d %7d  %s%s\n", jobs[i].family.c_str(),
                jobs[i].label.c_str(), u.registers, u.static_smem, u.spill_stores, u.spill_loads,
                jobs[i].spec.name_expression.c_str(), outcomes[i].ok ? "" : "  COMPILE ERROR");
    if (!outcomes[i].ok) {
      ++failed;
      ADD_FAILURE() << jobs[i].spec.name_expression << ": " << outcomes[i].error;
      continue;
    }
    if (u.spill_stores > 0 || u.spill_loads > 0) ++spills;
    if (u.static_smem > arch.smem_per_block_optin) ++over_budget;
    EXPECT_GE(u.registers, 1) << "ptxas log not parsed for " << jobs[i].spec.name_expression;
    EXPECT_EQ(u.wgmma_notes, 0) << jobs[i].spec.name_expression
                                << ": ptxas serialised wgmma or injected a warpgroup wait";
  }
  std::printf(
      "%zu kernels compiled for %s: %d failed, %d spill, %d over the shared memory budget\n",
      jobs.size(), arch.sm_name().c_str(), failed, spills, over_budget);
}

// The catalog a target builds: a family filter keeps only its points, a point that does not build
// on the target is left out, and an unknown family is a user error naming the known ones.
TEST(CatalogJobs, FollowTheFamilyFilterAndTheTarget) {
  const ArchInfo hopper = ArchInfo::named("sm_90a"), ampere = ArchInfo::named("sm_86");
  const std::vector<CatalogJob> warmup = catalog_jobs(hopper, {"gdn.cp_warmup"});
  ASSERT_EQ(warmup.size(), 1u) << "one point, one kernel";
  EXPECT_EQ(warmup[0].family, "gdn.cp_warmup");
  const std::vector<CatalogJob> wgmma = catalog_jobs(hopper, {"gdn.fused_fwd_wgmma"});
  ASSERT_FALSE(wgmma.empty());
  for (const CatalogJob& j : wgmma) EXPECT_EQ(j.family, "gdn.fused_fwd_wgmma") << j.label;
  EXPECT_TRUE(catalog_jobs(ampere, {"gdn.fused_fwd_wgmma"}).empty()) << "wgmma is sm_90a only";
  EXPECT_EQ(catalog_jobs(hopper, {"gdn.cp_warmup", "gdn.fused_fwd_wgmma"}).size(),
            1 + wgmma.size());
  EXPECT_GT(catalog_jobs(hopper).size(), 1 + wgmma.size());
  try {
    catalog_jobs(hopper, {"gdn.cp_warmup", "gdn.nope"});
    ADD_FAILURE() << "an unknown family was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("gdn.nope"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gdn.cumsum"), std::string::npos) << e.what();
  }
  EXPECT_THROW(compile_catalog(warmup, hopper, 0), UserError);
}

// cp_correct's staged M (two 128 x 132-float buffers beside the state slice and the split rows'
// partial sums) builds where a block may opt in to them and cp.async exists: on sm_90a (227 KB)
// every point with bv · sk ≤ 64 (and the two 4-row points, bv8 and bv16), on sm_80 (163 KB) all but
// the two that need 164 KB (bv16.sk4, bv32.sk2), not on sm_86 or sm_89 (99 KB). M by tensor copies
// (ms2: two 64 KB buffers, one row a thread) needs TMA: every bv · sk ≤ 64 point on sm_90a, none
// elsewhere. The register points (ms0, one row a thread) build everywhere.
TEST(CatalogJobs, CpCorrectStagesMWhereTheBuffersFit) {
  struct Expect {
    std::string target;
    int cp_async, tma;
  };
  for (const auto& [target, cp_async_points, tma_points] :
       std::vector<Expect>{{"sm_80", 10, 0}, {"sm_86", 0, 0}, {"sm_89", 0, 0}, {"sm_90a", 12, 8}}) {
    SCOPED_TRACE(target);
    const std::vector<CatalogJob> jobs = catalog_jobs(ArchInfo::named(target), {"gdn.cp_correct"});
    int cp_async = 0, tma = 0;
    for (const CatalogJob& j : jobs) {
      cp_async += j.label.find(".ms1") != std::string::npos;
      tma += j.label.find(".ms2") != std::string::npos;
    }
    EXPECT_EQ(cp_async, cp_async_points);
    EXPECT_EQ(tma, tma_points);
    EXPECT_EQ(jobs.size(), 8u + cp_async_points + tma_points);
    if (tma_points > 0) {
      for (const char* label :
           {"bv16.ms1.sk4.rt1", "bv32.ms1.sk2.rt1", "bv8.ms1.sk4.rt1", "bv8.ms1.sk1.rt4",
            "bv16.ms1.sk1.rt4", "bv8.ms1.sk2.rt16", "bv16.ms1.sk2.rt16", "bv8.ms2.sk1.rt1",
            "bv8.ms2.sk4.rt1", "bv32.ms2.sk2.rt1"}) {
        const bool listed = std::any_of(jobs.begin(), jobs.end(),
                                        [&](const CatalogJob& j) { return j.label == label; });
        EXPECT_TRUE(listed) << label;
      }
    }
  }
}

TEST(NvrtcConfigs, ParsesPtxasLog) {
  const auto u = parse_ptxas_log(
      "ptxas info    : Function properties for _Z1k\n"
      "ptxas         .     256 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 1 barriers, 512 bytes smem\n");
  EXPECT_EQ(u.registers, 40);
  EXPECT_EQ(u.static_smem, 512);
  EXPECT_EQ(u.spill_stores, 8);
  EXPECT_EQ(u.spill_loads, 12);
  EXPECT_EQ(u.stack_frame, 256);
  EXPECT_EQ(u.wgmma_notes, 0);
  // ptxas' notes on warpgroup MMA (as it prints them for sm_90a) are counted.
  const auto w = parse_ptxas_log(
      "ptxas info    : (C7517) warpgroup.wait is injected in around line 2584 by compiler to allow "
      "use of registers defined by GMMA in function '_Z1k'\n"
      "ptxas info    : (C7514) Potential Performance Loss: wgmma.mma_async instructions are "
      "serialized due to non wgmma instructions reading accumulator registers\n"
      "ptxas info    : (C7999) an unrelated note\n"
      "ptxas info    : Used 168 registers, used 2 barriers\n");
  EXPECT_EQ(w.wgmma_notes, 2);
  EXPECT_EQ(parse_ptxas_log("no ptxas output").wgmma_notes, -1);
}

TEST(NvrtcConfigs, CompileErrorCarriesTheLog) {
  EXPECT_THROW(compile_kernel({"gdn/naive_fwd.cuh", "qla::gdn::naive_fwd_kernel<33, 4, float>"},
                              ArchInfo::named("sm_90a"), {{}, false}),
               CompileError);
}

}  // namespace
}  // namespace qla::cuda

#include "qla/cuda/aot_registry.hpp"
#include "qla/cuda/embedded_sources.hpp"
#include "qla/error.hpp"

namespace qla::cuda {
namespace {

TEST(EmbeddedSources, DeviceSourcesAndTheirParamsHeadersAreEmbedded) {
  EXPECT_NE(source_text("gdn/naive_fwd.cuh").find("naive_fwd_kernel"), std::string_view::npos);
  const auto closure = source_closure("gdn/naive_fwd.cuh");
  EXPECT_NE(std::find(closure.begin(), closure.end(), "qla/gdn/tensor_views.hpp"), closure.end());
  EXPECT_NE(source_hash("gdn/naive_fwd.cuh"), source_hash("gdn/cumsum.cuh"));
  EXPECT_THROW(source_text("gdn/no_such_file.cuh"), qla::UserError);
}

TEST(EmbeddedSources, TheHashSeesCodeNotCommentsOrLayout) {
  const std::string code = "__device__ int f(int x) {\n  return x + 1;  // one more\n}\n";
  EXPECT_EQ(code_text(code), "__device__ int f(int x) { return x + 1; }");
  EXPECT_EQ(code_text("/* block\n comment */int  a =\t1;"), "int a = 1;");
  EXPECT_EQ(code_text(code),
            code_text("// a new first line\n__device__ int f(int x)\n{ return x + 1; }"));
  EXPECT_NE(code_text(code), code_text("__device__ int f(int x) { return x + 2; }"));
  // Literals stay as written: asm text, a "//" inside a string, escaped quotes.
  EXPECT_EQ(code_text("asm(\"mov.u32  %0, 1; // x\");"), "asm(\"mov.u32  %0, 1; // x\");");
  EXPECT_EQ(code_text("s = \"a\\\"b\"; // c"), "s = \"a\\\"b\";");
  EXPECT_EQ(code_text("c = '/';  /* d */"), "c = '/';");
}

TEST(AotRegistry, NamesCompareWithoutWhitespaceAndOuterParens) {
  static int dummy;
  register_aot_kernel("test/x.cuh", "(ns::k< 1, float >)", &dummy);
  EXPECT_EQ(find_aot_kernel("test/x.cuh", "ns::k<1,float>"), &dummy);
  EXPECT_EQ(find_aot_kernel("test/x.cuh", "ns::k<2,float>"), nullptr);
  EXPECT_EQ(find_aot_kernel("test/y.cuh", "ns::k<1,float>"), nullptr);
  // The library's own defaults are registered (linked whole).
  EXPECT_NE(find_aot_kernel("gdn/naive_fwd.cuh",
                            "qla::gdn::naive_fwd_kernel<32, 4, __nv_bfloat16, float, float>"),
            nullptr);
}

}  // namespace
}  // namespace qla::cuda

namespace qla::cuda {
namespace {

// Linking qla::kernels (with qla_kernels_jit) installs the launcher's JIT compiler before main; the
// GPU tests of every non-default config depend on it.
TEST(JitHook, LinkingTheJitLibraryInstallsCompileKernel) {
  ASSERT_NE(jit_compiler(), nullptr);
  const JitCompiler saved = jit_compiler();
  set_jit_compiler(nullptr);
  EXPECT_EQ(jit_compiler(), nullptr);
  set_jit_compiler(saved);
  EXPECT_EQ(jit_compiler(), saved);
}

}  // namespace
}  // namespace qla::cuda
