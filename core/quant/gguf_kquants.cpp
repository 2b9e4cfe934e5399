#include "core/quant/format_families.h"

namespace qb {

void add_gguf_kquant_formats(std::vector<FormatInfo>&) {}

}  // namespace qb
