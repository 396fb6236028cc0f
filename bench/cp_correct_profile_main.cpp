// qla_cp_correct_profile's command line: the configs to profile and their launch shapes (the op
// layer's cp_correct_shape), then the device side (cp_correct_profile.cu) for each.
//   qla_cp_correct_profile --heads 8 --pieces 16

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cp_correct_profile.hpp"
#include "qla/gdn/cp.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Cycles per phase of the CP correction's step (a cycle-probe instantiation)"};
  int heads = 8, pieces = 16, iters = 20;
  app.add_option("--heads", heads, "value heads")->check(CLI::PositiveNumber);
  app.add_option("--pieces", pieces, "pieces of the one raw sequence")->check(CLI::PositiveNumber);
  app.add_option("--iters", iters, "timed launches per config")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    std::printf("cp_correct, %d value heads, one sequence of %d pieces\n", heads, pieces);
    for (const qla::gdn::CpCorrectConfig& c :
         {qla::gdn::CpCorrectConfig{8, 2, 1, 1}, qla::gdn::CpCorrectConfig{8, 2, 4, 1},
          qla::gdn::CpCorrectConfig{8, 1, 4, 1}, qla::gdn::CpCorrectConfig{8, 1, 1, 4},
          qla::gdn::CpCorrectConfig{8, 1, 1, 1}, qla::gdn::CpCorrectConfig{8, 0, 4, 1},
          qla::gdn::CpCorrectConfig{16, 1, 4, 1}, qla::gdn::CpCorrectConfig{8, 1, 2, 16}}) {
      const qla::cuda::LaunchShape s = qla::gdn::cp_correct_shape(c, heads, 1);
      qla::bench::profile_cp_correct({{c.block_v, c.stage_m, c.split_k, c.rows_per_thread},
                                      heads,
                                      pieces,
                                      iters,
                                      s.grid,
                                      s.block[0],
                                      static_cast<int>(s.dynamic_smem)});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qla_cp_correct_profile: %s\n", e.what());
    return 1;
  }
  return 0;
}
