#include "core/quant/format_families.h"

namespace qb {

void add_grid_formats(std::vector<FormatInfo>&) {}
std::optional<FormatInfo> parse_grid_format(std::string_view) { return std::nullopt; }

}  // namespace qb
