#include "core/export/hf_layout.h"

#include "core/export/gguf_export.h"
#include "core/model/architecture.h"

namespace qb {

std::optional<HfPlacement> hf_placement(const Model& model, const std::string& canonical) {
    const Architecture& arch = architecture_by_name(model.architecture, model.source_path.string());
    const auto resolved = canonical_name(arch, SourceFormat::Gguf, gguf_tensor_name(canonical));
    const TensorView* tensor = model.find(canonical);
    if (!resolved || !resolved->rule || resolved->rule->hf.empty() || !tensor) return std::nullopt;
    HfPlacement p;
    p.name = source_name(SourceFormat::Safetensors, *resolved->rule, resolved->layer);
    if (resolved->bias) p.name = p.name.substr(0, p.name.size() - std::string_view(".weight").size()) + ".bias";
    p.shape = tensor->shape;
    p.transposed = resolved->rule->hf_layout == HfLayout::Transposed && !resolved->bias;
    if (p.transposed) std::swap(p.shape.front(), p.shape.back());
    p.row_order = hf_row_order(resolved->rule->hf_layout, tensor->shape.front(), model.hparams, model.source_path.string(),
                               p.name);
    return p;
}

std::string hf_module_name(const HfPlacement& placement) {
    const std::string_view suffix = ".weight";
    return placement.name.ends_with(suffix) ? placement.name.substr(0, placement.name.size() - suffix.size()) : placement.name;
}

std::vector<float> to_hf_layout(const HfPlacement& placement, std::vector<float> canonical, int64_t rows, int64_t cols) {
    if (placement.row_order.empty() && !placement.transposed) return canonical;
    std::vector<float> out(canonical.size());
    const bool one_dimensional = placement.shape.size() == 1;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t stored_row = placement.row_order.empty() || one_dimensional ? r : placement.row_order[size_t(r)];
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t stored_col = one_dimensional && !placement.row_order.empty() ? placement.row_order[size_t(c)] : c;
            const size_t to = placement.transposed ? size_t(c * rows + stored_row) : size_t(stored_row * cols + stored_col);
            out[to] = canonical[size_t(r * cols + c)];
        }
    }
    return out;
}

}  // namespace qb
