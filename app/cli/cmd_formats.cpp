#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/quant/format.h"

namespace qbcli {
namespace {

std::string block_text(const qb::FormatInfo& f) {
    if (f.grid.group == qb::kPerTensor && f.kind == qb::FormatKind::IntGrid) return "tensor";
    if (f.block_values == 0) return "row";
    return std::to_string(f.block_values);
}

}  // namespace

int run_formats(const CommandArgs& argv) {
    Args args(argv, {{}, {"json"}});
    if (args.flag("json")) {
        nlohmann::json out = nlohmann::json::array();
        for (const qb::FormatInfo* f : qb::registered_formats())
            out.push_back({{"name", f->name}, {"kind", qb::format_kind_name(f->kind)}, {"bits_per_weight", f->nominal_bits},
                           {"block", block_text(*f)}, {"ggml_type", f->ggml_type}, {"can_encode", f->can_encode()},
                           {"description", f->description}});
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%-18s %-11s %6s %7s %5s %6s  %s\n", "name", "kind", "bpw", "block", "gguf", "encode", "description");
    for (const qb::FormatInfo* f : qb::registered_formats())
        std::printf("%-18s %-11s %6.3f %7s %5s %6s  %s\n", f->name.c_str(), std::string(qb::format_kind_name(f->kind)).c_str(), f->nominal_bits,
                    block_text(*f).c_str(), f->gguf_storable() ? std::to_string(f->ggml_type).c_str() : "-",
                    f->can_encode() ? "yes" : "no", f->description.c_str());
    return 0;
}

}  // namespace qbcli
