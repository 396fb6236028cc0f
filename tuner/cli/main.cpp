// `qla`: the command line of the GDN autotuning harness. Only this function catches exceptions.
//   UserError (bad flags, files, shapes) → one line on stderr, exit 2.
//   ApiError or anything else unexpected → one line on stderr, exit 1.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "qla/error.hpp"

namespace qla::cli {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace qla::cli

int main(int argc, char** argv) {
  CLI::App app{"qla: autotuning and benchmarking harness for Gated DeltaNet (GDN) kernels"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  qla::cli::add_devices_command(app);
  qla::cli::add_generate_command(app);
  qla::cli::add_reference_command(app);
  qla::cli::add_report_command(app);
  qla::cli::add_run_command(app);
  qla::cli::add_tune_command(app);
  qla::cli::add_db_command(app);
  qla::cli::add_header_command(app);
  qla::cli::add_cache_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 through CLI11; every other parse error is one line and exit
    // code 2.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::fprintf(stderr, "qla: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const qla::UserError& e) {
    std::fprintf(stderr, "qla: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qla: internal error: %s\n", e.what());
    return 1;
  }
  return qla::cli::exit_code();
}
