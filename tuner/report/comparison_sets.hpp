// The report page's sections of comparison sets: bench documents that name a set ("set") pair only
// with each other.
#pragma once

#include <sstream>

#include "report_data.hpp"

namespace qla::report {

/// A section for each set of ReportData::sets, on its own: its documents, its ratio over each
/// baseline it timed (over all its shapes and per head configuration, with the closest shape), and
/// every shape in a folded table.
void comparison_sets(std::ostringstream& os, const ReportData& d);

}  // namespace qla::report
