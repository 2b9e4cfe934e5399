#include "core/io/gguf_reader.h"

#include <algorithm>

#include "core/util/byte_reader.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxStringBytes = 1ull << 30;

std::string read_string(ByteReader& in, const char* what) {
    const uint64_t len = in.read<uint64_t>(what);
    const std::string where = std::string(what) + " at offset " + std::to_string(in.offset() - 8) + " claims " +
                              std::to_string(len) + " bytes";
    if (len > in.remaining())
        in.fail("truncated or corrupt: " + where + ", but only " + std::to_string(in.remaining()) + " follow");
    if (len > kMaxStringBytes) in.fail(where + ", more than the 1 GiB a string may have");
    const uint8_t* p = in.take(len, what);
    return std::string(reinterpret_cast<const char*>(p), len);
}

size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
        case GgufType::U16: case GgufType::I16: return 2;
        case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
        case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
        default: return 0;
    }
}

bool is_signed(GgufType t) {
    return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

bool is_float(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

// Reads one scalar widened to the three numeric carriers.
template <typename T>
T read_number(ByteReader& in, GgufType t, const char* what) {
    switch (t) {
        case GgufType::U8: return T(in.read<uint8_t>(what));
        case GgufType::I8: return T(in.read<int8_t>(what));
        case GgufType::U16: return T(in.read<uint16_t>(what));
        case GgufType::I16: return T(in.read<int16_t>(what));
        case GgufType::U32: return T(in.read<uint32_t>(what));
        case GgufType::I32: return T(in.read<int32_t>(what));
        case GgufType::F32: return T(in.read<float>(what));
        case GgufType::U64: return T(in.read<uint64_t>(what));
        case GgufType::I64: return T(in.read<int64_t>(what));
        case GgufType::F64: return T(in.read<double>(what));
        case GgufType::Bool: return T(in.read<uint8_t>(what) != 0);
        default: in.fail("unexpected value type");
    }
}

GgufType read_type(ByteReader& in, const std::string& key) {
    const uint32_t t = in.read<uint32_t>("value type");
    if (t > uint32_t(GgufType::F64)) in.fail("metadata key '" + key + "' has unknown value type " + std::to_string(t));
    return GgufType(t);
}

GgufValue read_array(ByteReader& in, const std::string& key) {
    GgufValue v;
    v.type = GgufType::Array;
    v.elem_type = read_type(in, key);
    const uint64_t count = in.read<uint64_t>("array length");
    const uint64_t min_elem = v.elem_type == GgufType::String ? 8 : scalar_size(v.elem_type);
    if (v.elem_type == GgufType::Array) in.fail("metadata key '" + key + "' holds nested arrays, which are not supported");
    if (count > in.remaining() / std::max<uint64_t>(min_elem, 1))
        in.fail("metadata key '" + key + "' claims " + std::to_string(count) + " array elements, more than the file holds");
    if (v.elem_type == GgufType::String) {
        std::vector<std::string> items(count);
        for (auto& s : items) s = read_string(in, "array string");
        v.value = std::move(items);
    } else if (is_float(v.elem_type)) {
        std::vector<double> items(count);
        for (auto& x : items) x = read_number<double>(in, v.elem_type, "array element");
        v.value = std::move(items);
    } else if (is_signed(v.elem_type)) {
        std::vector<int64_t> items(count);
        for (auto& x : items) x = read_number<int64_t>(in, v.elem_type, "array element");
        v.value = std::move(items);
    } else {
        std::vector<uint64_t> items(count);
        for (auto& x : items) x = read_number<uint64_t>(in, v.elem_type, "array element");
        v.value = std::move(items);
    }
    return v;
}

GgufValue read_value(ByteReader& in, const std::string& key) {
    GgufValue v;
    v.type = read_type(in, key);
    if (v.type == GgufType::Array) return read_array(in, key);
    if (v.type == GgufType::String) v.value = read_string(in, "string value");
    else if (v.type == GgufType::Bool) v.value = in.read<uint8_t>("bool value") != 0;
    else if (is_float(v.type)) v.value = read_number<double>(in, v.type, "float value");
    else if (is_signed(v.type)) v.value = read_number<int64_t>(in, v.type, "integer value");
    else v.value = read_number<uint64_t>(in, v.type, "integer value");
    return v;
}

[[noreturn]] void wrong_type(const char* wanted) { throw Error("gguf metadata", std::string("value is not ") + wanted); }

}  // namespace

bool GgufValue::is_integer() const {
    return std::holds_alternative<uint64_t>(value) || std::holds_alternative<int64_t>(value);
}

int64_t GgufValue::as_int() const {
    if (auto p = std::get_if<int64_t>(&value)) return *p;
    if (auto p = std::get_if<uint64_t>(&value)) return int64_t(*p);
    if (auto p = std::get_if<bool>(&value)) return *p;
    wrong_type("an integer");
}

double GgufValue::as_double() const {
    if (auto p = std::get_if<double>(&value)) return *p;
    if (is_integer()) return double(as_int());
    wrong_type("a number");
}

bool GgufValue::as_bool() const {
    if (auto p = std::get_if<bool>(&value)) return *p;
    if (is_integer()) return as_int() != 0;
    wrong_type("a bool");
}

const std::string& GgufValue::as_string() const {
    if (auto p = std::get_if<std::string>(&value)) return *p;
    wrong_type("a string");
}

const std::vector<std::string>& GgufValue::as_strings() const {
    if (auto p = std::get_if<std::vector<std::string>>(&value)) return *p;
    wrong_type("a string array");
}

std::vector<double> GgufValue::as_doubles() const {
    if (auto p = std::get_if<std::vector<double>>(&value)) return *p;
    if (auto p = std::get_if<std::vector<int64_t>>(&value)) return {p->begin(), p->end()};
    if (auto p = std::get_if<std::vector<uint64_t>>(&value)) return {p->begin(), p->end()};
    wrong_type("a numeric array");
}

std::vector<int64_t> GgufValue::as_ints() const {
    if (auto p = std::get_if<std::vector<int64_t>>(&value)) return *p;
    if (auto p = std::get_if<std::vector<uint64_t>>(&value)) return {p->begin(), p->end()};
    wrong_type("an integer array");
}

size_t GgufValue::array_size() const {
    return std::visit([](const auto& v) -> size_t {
        if constexpr (requires { v.size(); } && !std::is_same_v<std::decay_t<decltype(v)>, std::string>) return v.size();
        else return 0;
    }, value);
}

const FormatInfo& GgufTensorInfo::decodable_format(const std::string& file) const {
    if (!format)
        throw Error(file, "tensor '" + name + "' uses ggml type " + std::string(type_name()) +
                              ", which Quantbench cannot decode");
    return *format;
}

int64_t GgufTensorInfo::numel() const {
    int64_t n = 1;
    for (uint64_t d : dims) n *= int64_t(d);
    return n;
}

GgufFile::GgufFile(const std::filesystem::path& path) : file_(std::make_shared<MappedFile>(path)) {
    ByteReader in(file_->bytes(), file_->name());
    const uint8_t* magic = in.take(4, "GGUF magic");
    if (std::string(reinterpret_cast<const char*>(magic), 4) != "GGUF") in.fail("not a GGUF file (bad magic)");
    version_ = in.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
        const bool big_endian = version_ == 0x02000000u || version_ == 0x03000000u;
        in.fail("unsupported GGUF version " + std::to_string(version_) +
                (big_endian ? " (a big-endian file; only little-endian GGUF is supported)" : " (supported: 2, 3)"));
    }
    const uint64_t tensor_count = in.read<uint64_t>("tensor count");
    const uint64_t kv_count = in.read<uint64_t>("metadata count");
    // Each KV needs at least 12 bytes and each tensor info at least 28: reject absurd counts before allocating.
    if (kv_count > in.remaining() / 12)
        in.fail("truncated or corrupt: header claims " + std::to_string(kv_count) + " metadata entries, but only " +
                std::to_string(in.remaining()) + " bytes follow");
    if (tensor_count > in.remaining() / 28)
        in.fail("truncated or corrupt: header claims " + std::to_string(tensor_count) + " tensors, but only " +
                std::to_string(in.remaining()) + " bytes follow");

    for (uint64_t i = 0; i < kv_count; ++i) {
        std::string key = read_string(in, "metadata key");
        GgufValue v = read_value(in, key);
        if (!metadata_.emplace(key, std::move(v)).second) in.fail("duplicate metadata key '" + key + "'");
        metadata_keys_.push_back(std::move(key));
    }
    if (auto a = find("general.alignment")) {
        const int64_t align = a->is_integer() ? a->as_int() : 0;
        if (align <= 0 || (align & (align - 1)) != 0)
            in.fail("general.alignment must be a power of two, got " + std::to_string(align));
        alignment_ = uint64_t(align);
    }

    tensors_.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) {
        GgufTensorInfo t;
        t.name = read_string(in, "tensor name");
        const uint32_t n_dims = in.read<uint32_t>("tensor rank");
        if (n_dims == 0 || n_dims > kMaxDims)
            in.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
        uint64_t numel = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim = in.read<uint64_t>("tensor dimension");
            if (dim == 0 || dim > (uint64_t(1) << 40) || numel > (uint64_t(1) << 50) / dim)
                in.fail("tensor '" + t.name + "' has an impossible dimension " + std::to_string(dim));
            numel *= dim;
            t.dims.push_back(dim);
        }
        t.ggml_type = int(in.read<uint32_t>("tensor type"));
        t.offset = in.read<uint64_t>("tensor offset");
        const GgmlTypeInfo type = ggml_type_info(t.ggml_type);
        if (type.block == 0)
            in.fail("tensor '" + t.name + "' has unknown ggml type id " + std::to_string(t.ggml_type));
        if (t.dims[0] % uint64_t(type.block) != 0)
            in.fail("tensor '" + t.name + "': row length " + std::to_string(t.dims[0]) + " is not a multiple of " +
                    std::string(type.name) + "'s block of " + std::to_string(type.block));
        t.format = format_by_ggml_type(t.ggml_type);
        t.n_bytes = uint64_t(t.numel()) / uint64_t(type.block) * type.bytes;
        tensors_.push_back(std::move(t));
    }

    std::vector<std::string_view> names;
    for (const auto& t : tensors_) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end())
        in.fail("duplicate tensor name '" + std::string(*dup) + "'");
    place_tensors(in);
}

void GgufFile::place_tensors(ByteReader& in) {
    data_offset_ = (in.offset() + alignment_ - 1) / alignment_ * alignment_;
    if (data_offset_ > file_->size() && !tensors_.empty()) in.fail("truncated: tensor data section is missing");
    const uint64_t data_size = file_->size() - std::min<uint64_t>(data_offset_, file_->size());
    for (auto& t : tensors_) {
        if (t.offset % alignment_ != 0)
            in.fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not aligned to " +
                    std::to_string(alignment_));
        if (t.offset > data_size || t.n_bytes > data_size - t.offset)
            in.fail("truncated: tensor '" + t.name + "' needs bytes " + std::to_string(t.offset) + ".." +
                    std::to_string(t.offset + t.n_bytes) + " of the data section, which has " +
                    std::to_string(data_size));
        t.data = file_->bytes().subspan(data_offset_ + t.offset, t.n_bytes);
    }
    std::vector<const GgufTensorInfo*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::stable_sort(by_offset.begin(), by_offset.end(), [](auto a, auto b) { return a->offset < b->offset; });
    const auto range = [](const GgufTensorInfo* t) {
        return std::to_string(t->offset) + ".." + std::to_string(t->offset + t->n_bytes);
    };
    for (size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->n_bytes > by_offset[i]->offset)
            in.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap (bytes " +
                    range(by_offset[i - 1]) + " and " + range(by_offset[i]) + " of the data section)");
}

const GgufValue* GgufFile::find(const std::string& key) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
    if (auto v = find(key)) return *v;
    throw Error(name(), "missing metadata key '" + key + "'");
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
    for (const auto& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

const GgufTensorInfo& GgufFile::tensor(const std::string& tensor_name) const {
    if (auto t = find_tensor(tensor_name)) return *t;
    throw Error(name(), "no tensor named '" + tensor_name + "'");
}

}  // namespace qb
