#include "core/quant/format_families.h"

namespace qb {

void add_scaled_float_formats(std::vector<FormatInfo>&) {}

}  // namespace qb
