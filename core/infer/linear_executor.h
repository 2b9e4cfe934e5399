// Where a forward pass (forward.h) runs its weight products: y = x · Wᵀ for a linear weight W as the model
// stores it (format and raw bytes of a TensorView). The forward pass's own product (matmul.h on the
// decoded rows) is the CPU executor and needs no object: ForwardOptions::executor == nullptr. Another
// executor (gpu/gpu_linear.h: dequantize-multiply on a Vulkan device) takes the products it has a kernel
// for and declines the others, which then run on the CPU; replacement tensors (weight overrides, f32)
// always run on the CPU.
#pragma once
#include <string>

#include "core/infer/matmul.h"
#include "core/tensor/tensor_view.h"

namespace qb {

class LinearExecutor {
public:
    virtual ~LinearExecutor() = default;

    // "Vulkan: llvmpipe (...)": for messages and reports.
    virtual std::string description() const = 0;
    // y (x.rows x weight.rows(), row stride y.stride) = x (x.rows x weight.cols()) · Wᵀ, W decoded from
    // weight's stored bytes. Returns false, leaving y untouched, when it cannot run this product (format,
    // stored layout or shape without a kernel): the caller computes it on the CPU. Thread-safe: concurrent
    // forward calls may share an executor. Sums may run in another order than the CPU's (results within
    // f32 rounding of it, not bit-identical).
    virtual bool multiply(const TensorView& weight, ConstMatrixRef x, MatrixRef y) = 0;
};

}  // namespace qb
