#include "core/infer/arch_compute.h"

#include <string>

#include "core/util/error.h"

namespace qb {
namespace {

constexpr ArchCompute kArchitectures[] = {
    {"llama", NormKind::Rms, Activation::SiluGated, PositionKind::RotaryPairs},
    {"mistral", NormKind::Rms, Activation::SiluGated, PositionKind::RotaryPairs},
    // Qwen2's q/k rows keep the Hugging Face rotate-half order in GGUF too (llama.cpp's NEOX rope type).
    {"qwen2", NormKind::Rms, Activation::SiluGated, PositionKind::RotaryHalf},
    {"gpt2", NormKind::Layer, Activation::GeluTanh, PositionKind::Learned},
    {"gpt-neox", NormKind::Layer, Activation::GeluErf, PositionKind::RotaryHalf},
};

}  // namespace

const ArchCompute& arch_compute(std::string_view architecture) {
    std::string known;
    for (const ArchCompute& a : kArchitectures) {
        if (a.architecture == architecture) return a;
        known += (known.empty() ? "" : ", ") + std::string(a.architecture);
    }
    throw Error("architecture", "no forward pass for '" + std::string(architecture) + "' (supported: " + known + ")");
}

}  // namespace qb
