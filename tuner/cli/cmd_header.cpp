// `qla header --db STORE [--device DIGEST | --arch sm_90] -o FILE`: the deployment header of a
// tuning store (tuner/header/header_generator.hpp says what goes in). The store is opened
// read-only; the file is written whole or not at all.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "header_generator.hpp"
#include "qla/tuner/store.hpp"

namespace qla::cli {

void add_header_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "header", "Write the deployment header (tuned config tables + dispatch) of a store");
  auto opts = std::make_shared<tuner::HeaderOptions>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("--db", opts->store_name, "Tuning store (SQLite), e.g. results/h100.sqlite")
      ->required();
  auto* device =
      cmd->add_option("--device", opts->device,
                      "Fingerprint digest of the device to deploy for (`qla db show` lists them)");
  auto* arch =
      cmd->add_option("--arch", opts->arch, "Compute capability to deploy for, e.g. sm_90");
  device->excludes(arch);
  cmd->add_option("-o,--output", *output, "Header file to write")->required();
  cmd->callback([opts, output] {
    // Everything that can fail does so before the file is touched.
    const tuner::Store store = tuner::Store::open(opts->store_name, tuner::Store::Mode::kReadOnly);
    const tuner::HeaderResult h = tuner::generate_header(store, tuner::gdn_header_kernels(), *opts);
    tuner::write_file_atomically(*output, h.text);
    if (h.defaults_only)
      std::printf("%s: defaults only (the store holds no trials)\n", output->c_str());
    else
      std::printf("%s: %zu tuned rows\n", output->c_str(), h.rows);
    exit_code() = 0;
  });
}

}  // namespace qla::cli
