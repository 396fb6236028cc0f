// Each `qla` subcommand registers itself on the app; its callback runs the command and returns the
// exit code through `set_exit`. Subcommands live one per file (cmd_<name>.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace qla::cli {

/// Exit code a subcommand callback hands back to main (0 on success).
int& exit_code();

void add_devices_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_reference_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_tune_command(CLI::App& app);  // also the hidden `qla worker`
void add_db_command(CLI::App& app);
void add_header_command(CLI::App& app);
void add_cache_command(CLI::App& app);

}  // namespace qla::cli
