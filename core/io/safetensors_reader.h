// safetensors reader: a single file (u64 LE header length, JSON header, data) or a sharded model
// described by model.safetensors.index.json (weight_map: tensor -> shard file beside the index).
// Every header field is validated against the file before a view is made: header length, UTF-8, JSON
// syntax, duplicate names, dtype, shape, data_offsets (order, range, size = prod(shape) * dtype size,
// no overlaps). Tensor data stays in the memory map. Errors name the file and the problem.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/quant/format.h"
#include "core/util/mapped_file.h"

namespace qb {

struct SafetensorsTensor {
    std::string name;
    std::string dtype;            // as spelled in the header: "F32", "BF16", "F8_E4M3"
    std::vector<int64_t> shape;   // PyTorch order, innermost last
    const FormatInfo* format = nullptr;
    std::span<const uint8_t> data;  // view into the mapped file

    int64_t numel() const;
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::filesystem::path& path);  // throws Error naming the file and the problem

    const std::map<std::string, std::string>& metadata() const { return metadata_; }  // the __metadata__ object
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }          // in data order
    const SafetensorsTensor* find_tensor(const std::string& name) const;
    uint64_t data_offset() const { return data_offset_; }
    std::string name() const { return file_->name(); }
    const std::filesystem::path& path() const { return file_->path(); }
    std::shared_ptr<const MappedFile> mapping() const { return file_; }

private:
    std::shared_ptr<const MappedFile> file_;
    uint64_t data_offset_ = 0;
    std::map<std::string, std::string> metadata_;
    std::vector<SafetensorsTensor> tensors_;
};

// A model stored as one .safetensors file or as shards listed by an index. Every tensor of every shard
// appears once; a name found in two shards, a weight_map entry absent from its shard, or a missing
// shard file is an error naming the index.
class SafetensorsSet {
public:
    explicit SafetensorsSet(const std::filesystem::path& path);  // a .safetensors file or an *.index.json

    struct Entry {
        const SafetensorsTensor* tensor;
        std::shared_ptr<const SafetensorsFile> shard;
    };
    const std::vector<Entry>& tensors() const { return tensors_; }  // shard by shard, in data order
    const std::vector<std::shared_ptr<const SafetensorsFile>>& shards() const { return shards_; }
    const std::filesystem::path& path() const { return path_; }
    bool sharded() const { return sharded_; }

private:
    void load_index();
    void collect_tensors();

    std::filesystem::path path_;
    bool sharded_ = false;
    std::vector<std::shared_ptr<const SafetensorsFile>> shards_;
    std::vector<Entry> tensors_;
};

}  // namespace qb
