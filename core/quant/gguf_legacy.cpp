#include "core/quant/format_families.h"

namespace qb {

void add_gguf_legacy_formats(std::vector<FormatInfo>&) {}

}  // namespace qb
