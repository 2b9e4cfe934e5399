// GGUF v3 writer. The header, metadata and tensor-info table are written first (every tensor's size
// follows from its ggml type and dims), then each tensor's data is asked from its producer in file
// order and streamed to disk, so only one tensor is in memory at a time. Tensor data starts at a
// multiple of the alignment (general.alignment when the metadata has it, else 32) and every tensor is
// followed by zero padding up to the next multiple, as ggml and gguf-py write it. The file is written
// atomically (qb::AtomicFile): a failure or a cancellation leaves no file behind.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/io/gguf_reader.h"

namespace qb {

class JobControl;

struct GgufKv {
    std::string key;
    GgufValue value;  // the value's type (and elem_type for arrays) is the type written
};

// Typed metadata values.
GgufValue gguf_u32(uint32_t value);
GgufValue gguf_i32(int32_t value);
GgufValue gguf_f32(float value);
GgufValue gguf_bool(bool value);
GgufValue gguf_string(std::string value);
GgufValue gguf_strings(std::vector<std::string> values);
GgufValue gguf_f32_array(const std::vector<float>& values);
GgufValue gguf_i32_array(const std::vector<int32_t>& values);

using TensorBytesProducer = std::function<std::vector<uint8_t>()>;

struct GgufTensorSpec {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order: dims[0] = innermost (a canonical [rows, cols] tensor is {cols, rows})
    int ggml_type = 0;
    TensorBytesProducer produce;  // returns exactly gguf_tensor_bytes() bytes
};

// Bytes of a tensor of that type and dims; throws Error naming the tensor for an unknown type or a row
// length that is not a multiple of the type's block.
uint64_t gguf_tensor_bytes(const GgufTensorSpec& tensor);

struct GgufLayout {
    uint64_t alignment = 32;
    uint64_t data_offset = 0;        // start of the data section (header + metadata + infos + padding)
    std::vector<uint64_t> offsets;   // per tensor, relative to data_offset
    uint64_t file_size = 0;          // data_offset + padded tensor data
};

// Where everything goes, computed without producing any data. Throws Error(subject, ...) for an invalid
// alignment, a duplicate key or tensor name, or a value that does not fit its declared type.
GgufLayout gguf_layout(const std::vector<GgufKv>& metadata, const std::vector<GgufTensorSpec>& tensors,
                       const std::string& subject = "gguf");

// Writes the file; returns its size. A producer returning the wrong number of bytes, a producer's
// exception or a cancellation (job->step() between tensors) aborts the write and propagates.
uint64_t write_gguf(const std::filesystem::path& path, const std::vector<GgufKv>& metadata,
                    const std::vector<GgufTensorSpec>& tensors, const JobControl* job = nullptr);

}  // namespace qb
