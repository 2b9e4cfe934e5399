// safetensors writer: a JSON header (tensors in the given order, then __metadata__) padded with spaces
// so the data starts at an 8-byte boundary, followed by the tensors back to back (the format allows
// no holes). Data comes from a byte span or from a producer that streams it in chunks, so files far
// larger than memory can be generated. The output is written atomically (qb::AtomicFile): a failure
// leaves no partial file. Dtypes are safetensors spellings of element formats ("F32", "BF16", "F8_E4M3").
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace qb {

using ByteSink = std::function<void(std::span<const uint8_t>)>;

struct SafetensorsOutput {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::span<const uint8_t> bytes = {};           // the data, when there is no producer
    std::function<void(const ByteSink&)> produce = {};  // streams exactly prod(shape) * dtype size bytes
};

// Throws Error(path, ...) for an unknown dtype, a duplicate or reserved name, or data whose size does
// not match the shape.
void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsOutput>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Writes model.safetensors.index.json: weight_map (tensor -> shard file name) and metadata.total_size.
void write_safetensors_index(const std::filesystem::path& path, const std::map<std::string, std::string>& weight_map,
                             uint64_t total_size);

}  // namespace qb
