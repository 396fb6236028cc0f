// `qla devices`: the GPUs this machine offers, with the fingerprint the tuner stores results under.
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "qla/tuner/device_report.hpp"

namespace qla::cli {

void add_devices_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("devices", "List CUDA GPUs with their device fingerprint");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json,
                "Print a JSON array of fingerprints instead of one line per device");
  cmd->callback([json] {
    const tuner::DeviceQuery q = tuner::query_devices();
    if (q.devices.empty()) {
      // The expected answer on CI and driverless machines: one line, exit 1, never a crash.
      std::fprintf(stderr, "no CUDA GPU: %s\n", q.unavailable_reason.c_str());
      exit_code() = 1;
      return;
    }
    if (*json) {
      std::string out = "[";
      for (std::size_t i = 0; i < q.devices.size(); ++i)
        out += (i ? ",\n " : "") + q.devices[i].to_json();
      std::printf("%s]\n", out.c_str());
    } else {
      for (const auto& d : q.devices) std::printf("%s\n", d.describe().c_str());
    }
    exit_code() = 0;
  });
}

}  // namespace qla::cli
