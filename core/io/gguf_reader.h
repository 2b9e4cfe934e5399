// GGUF v2/v3 reader: metadata and tensor table parsed with every count, length and offset checked
// against the file; tensor data stays in the memory map.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/quant/format.h"
#include "core/util/mapped_file.h"

namespace qb {

class ByteReader;

enum class GgufType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12
};

// One metadata value. Scalars keep their exact type; arrays hold their elements widened to
// int64 / uint64 / double / string vectors (the element type is kept in elem_type).
struct GgufValue {
    GgufType type = GgufType::U8;
    GgufType elem_type = GgufType::U8;  // for arrays
    std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<uint64_t>, std::vector<int64_t>,
                 std::vector<double>, std::vector<std::string>>
        value;

    bool is_array() const { return type == GgufType::Array; }
    bool is_integer() const;
    // Conversions throw Error("gguf", "...") when the value has another type.
    int64_t as_int() const;
    double as_double() const;
    bool as_bool() const;
    const std::string& as_string() const;
    const std::vector<std::string>& as_strings() const;
    std::vector<double> as_doubles() const;
    std::vector<int64_t> as_ints() const;
    size_t array_size() const;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order: dims[0] = innermost (columns)
    int ggml_type = 0;
    uint64_t offset = 0;         // relative to the data section
    const FormatInfo* format = nullptr;  // nullptr: a ggml type Quantbench cannot decode (listed, not read)
    uint64_t n_bytes = 0;
    std::span<const uint8_t> data;  // view into the mapped file

    int64_t numel() const;
    int64_t cols() const { return int64_t(dims.empty() ? 1 : dims[0]); }
    int64_t rows() const { return cols() == 0 ? 0 : numel() / cols(); }
    std::string_view type_name() const { return ggml_type_info(ggml_type).name; }
    // The storage format, or Error naming the tensor and its undecodable type.
    const FormatInfo& decodable_format(const std::string& file) const;
};

class GgufFile {
public:
    explicit GgufFile(const std::filesystem::path& path);  // throws Error naming the file and the problem

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
    const std::vector<std::string>& metadata_keys() const { return metadata_keys_; }  // in file order
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufValue* find(const std::string& key) const;
    const GgufValue& get(const std::string& key) const;  // throws "missing metadata key"
    const GgufTensorInfo* find_tensor(const std::string& name) const;
    const GgufTensorInfo& tensor(const std::string& name) const;  // throws "no tensor named"
    std::string name() const { return file_->name(); }
    std::shared_ptr<const MappedFile> mapping() const { return file_; }

private:
    void place_tensors(ByteReader& in);  // data offsets, bounds, overlaps

    std::shared_ptr<const MappedFile> file_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::map<std::string, GgufValue> metadata_;
    std::vector<std::string> metadata_keys_;
    std::vector<GgufTensorInfo> tensors_;
};

}  // namespace qb
