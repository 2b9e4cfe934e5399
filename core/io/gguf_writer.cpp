#include "core/io/gguf_writer.h"

#include <cstring>
#include <limits>
#include <set>

#include "core/jobs/job.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDims = 4;

class Bytes {
public:
    explicit Bytes(std::string subject) : subject_(std::move(subject)) {}

    template <typename T>
    void put(T value) {
        append(&value, sizeof(T));  // GGUF is little-endian, as every supported host
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        append(s.data(), s.size());
    }
    // An integer stored as T, or an error naming the key when it does not fit.
    template <typename T>
    void put_integer(const std::string& key, __int128 value) {
        if (value < __int128(std::numeric_limits<T>::min()) || value > __int128(std::numeric_limits<T>::max()))
            throw Error(subject_, "metadata key '" + key + "': value does not fit its declared type");
        put<T>(T(value));
    }
    const std::vector<uint8_t>& data() const { return out_; }

private:
    void append(const void* data, size_t size) {
        const size_t at = out_.size();
        out_.resize(at + size);
        if (size) std::memcpy(out_.data() + at, data, size);
    }

    std::string subject_;
    std::vector<uint8_t> out_;
};

bool is_integer_type(GgufType t) {
    switch (t) {
        case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
        case GgufType::I32: case GgufType::U64: case GgufType::I64: case GgufType::Bool: return true;
        default: return false;
    }
}

void put_integer(Bytes& out, const std::string& key, GgufType t, __int128 v) {
    switch (t) {
        case GgufType::U8: return out.put_integer<uint8_t>(key, v);
        case GgufType::I8: return out.put_integer<int8_t>(key, v);
        case GgufType::U16: return out.put_integer<uint16_t>(key, v);
        case GgufType::I16: return out.put_integer<int16_t>(key, v);
        case GgufType::U32: return out.put_integer<uint32_t>(key, v);
        case GgufType::I32: return out.put_integer<int32_t>(key, v);
        case GgufType::U64: return out.put_integer<uint64_t>(key, v);
        case GgufType::I64: return out.put_integer<int64_t>(key, v);
        case GgufType::Bool: return out.put_integer<uint8_t>(key, v != 0);
        default: break;
    }
}

void put_float(Bytes& out, GgufType t, double v) {
    if (t == GgufType::F32) out.put<float>(float(v));
    else out.put<double>(v);
}

[[noreturn]] void type_mismatch(const std::string& subject, const std::string& key) {
    throw Error(subject, "metadata key '" + key + "': value does not match its declared type");
}

// The reader widens numbers: integers to int64/uint64 (bool elements too), floats to double.
template <typename Vector>
void put_elements(Bytes& out, const std::string& subject, const std::string& key, GgufType t, const Vector& items) {
    for (const auto& item : items) {
        using Item = std::decay_t<decltype(item)>;
        if constexpr (std::is_same_v<Item, std::string>) {
            if (t != GgufType::String) type_mismatch(subject, key);
            out.put_string(item);
        } else if constexpr (std::is_same_v<Item, double>) {
            if (t != GgufType::F32 && t != GgufType::F64) type_mismatch(subject, key);
            put_float(out, t, item);
        } else {
            if (!is_integer_type(t)) type_mismatch(subject, key);
            put_integer(out, key, t, __int128(item));
        }
    }
}

void put_array(Bytes& out, const std::string& subject, const GgufKv& kv) {
    const GgufValue& v = kv.value;
    if (v.elem_type == GgufType::Array) throw Error(subject, "metadata key '" + kv.key + "': nested arrays are not supported");
    out.put<uint32_t>(uint32_t(v.elem_type));
    out.put<uint64_t>(v.array_size());
    std::visit([&](const auto& items) {
        using Held = std::decay_t<decltype(items)>;
        if constexpr (std::is_same_v<Held, std::vector<uint64_t>> || std::is_same_v<Held, std::vector<int64_t>> ||
                      std::is_same_v<Held, std::vector<double>> || std::is_same_v<Held, std::vector<std::string>>)
            put_elements(out, subject, kv.key, v.elem_type, items);
        else
            type_mismatch(subject, kv.key);
    }, v.value);
}

void put_value(Bytes& out, const std::string& subject, const GgufKv& kv) {
    const GgufValue& v = kv.value;
    out.put<uint32_t>(uint32_t(v.type));
    if (v.type == GgufType::Array) return put_array(out, subject, kv);
    std::visit([&](const auto& x) {
        using Held = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<Held, std::string>) {
            if (v.type != GgufType::String) type_mismatch(subject, kv.key);
            out.put_string(x);
        } else if constexpr (std::is_same_v<Held, double>) {
            if (v.type != GgufType::F32 && v.type != GgufType::F64) type_mismatch(subject, kv.key);
            put_float(out, v.type, x);
        } else if constexpr (std::is_same_v<Held, bool> || std::is_same_v<Held, uint64_t> || std::is_same_v<Held, int64_t>) {
            if (!is_integer_type(v.type)) type_mismatch(subject, kv.key);
            put_integer(out, kv.key, v.type, __int128(x));
        } else {
            type_mismatch(subject, kv.key);
        }
    }, v.value);
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

uint64_t alignment_of(const std::vector<GgufKv>& metadata, const std::string& subject) {
    for (const auto& kv : metadata) {
        if (kv.key != "general.alignment") continue;
        const int64_t a = kv.value.is_integer() && !kv.value.is_array() ? kv.value.as_int() : 0;
        if (a <= 0 || (a & (a - 1)) != 0) throw Error(subject, "general.alignment must be a power of two");
        return uint64_t(a);
    }
    return kDefaultAlignment;
}

void check_unique(const std::vector<GgufKv>& metadata, const std::vector<GgufTensorSpec>& tensors,
                  const std::string& subject) {
    std::set<std::string_view> keys, names;
    for (const auto& kv : metadata)
        if (!keys.insert(kv.key).second) throw Error(subject, "metadata key '" + kv.key + "' is given twice");
    for (const auto& t : tensors)
        if (!names.insert(t.name).second) throw Error(subject, "tensor '" + t.name + "' is given twice");
}

std::vector<uint8_t> header_bytes(const std::vector<GgufKv>& metadata, const std::vector<GgufTensorSpec>& tensors,
                                  const std::vector<uint64_t>& offsets, const std::string& subject) {
    Bytes out(subject);
    out.put<uint32_t>(0x46554747);  // "GGUF"
    out.put<uint32_t>(kVersion);
    out.put<uint64_t>(tensors.size());
    out.put<uint64_t>(metadata.size());
    for (const auto& kv : metadata) {
        out.put_string(kv.key);
        put_value(out, subject, kv);
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
        out.put_string(tensors[i].name);
        out.put<uint32_t>(uint32_t(tensors[i].dims.size()));
        for (uint64_t d : tensors[i].dims) out.put<uint64_t>(d);
        out.put<uint32_t>(uint32_t(tensors[i].ggml_type));
        out.put<uint64_t>(offsets[i]);
    }
    return out.data();
}

struct Prepared {
    GgufLayout layout;
    std::vector<uint8_t> header;
    std::vector<uint64_t> sizes;
};

Prepared prepare(const std::vector<GgufKv>& metadata, const std::vector<GgufTensorSpec>& tensors,
                 const std::string& subject) {
    check_unique(metadata, tensors, subject);
    Prepared p;
    p.layout.alignment = alignment_of(metadata, subject);
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        p.sizes.push_back(gguf_tensor_bytes(t));
        p.layout.offsets.push_back(offset);
        offset += align_up(p.sizes.back(), p.layout.alignment);
    }
    p.header = header_bytes(metadata, tensors, p.layout.offsets, subject);
    p.layout.data_offset = align_up(p.header.size(), p.layout.alignment);
    p.layout.file_size = p.layout.data_offset + offset;
    return p;
}

}  // namespace

GgufValue gguf_u32(uint32_t value) { return {GgufType::U32, GgufType::U8, uint64_t(value)}; }
GgufValue gguf_i32(int32_t value) { return {GgufType::I32, GgufType::U8, int64_t(value)}; }
GgufValue gguf_f32(float value) { return {GgufType::F32, GgufType::U8, double(value)}; }
GgufValue gguf_bool(bool value) { return {GgufType::Bool, GgufType::U8, value}; }
GgufValue gguf_string(std::string value) { return {GgufType::String, GgufType::U8, std::move(value)}; }
GgufValue gguf_strings(std::vector<std::string> values) { return {GgufType::Array, GgufType::String, std::move(values)}; }

GgufValue gguf_f32_array(const std::vector<float>& values) {
    return {GgufType::Array, GgufType::F32, std::vector<double>(values.begin(), values.end())};
}

GgufValue gguf_i32_array(const std::vector<int32_t>& values) {
    return {GgufType::Array, GgufType::I32, std::vector<int64_t>(values.begin(), values.end())};
}

uint64_t gguf_tensor_bytes(const GgufTensorSpec& tensor) {
    const GgmlTypeInfo type = ggml_type_info(tensor.ggml_type);
    if (type.block == 0) throw Error("gguf", "tensor '" + tensor.name + "': unknown ggml type " + std::to_string(tensor.ggml_type));
    if (tensor.dims.empty() || tensor.dims.size() > kMaxDims)
        throw Error("gguf", "tensor '" + tensor.name + "' has " + std::to_string(tensor.dims.size()) + " dimensions (1 to 4 allowed)");
    uint64_t numel = 1;
    for (uint64_t d : tensor.dims) {
        if (d == 0) throw Error("gguf", "tensor '" + tensor.name + "' has an empty dimension");
        numel *= d;
    }
    if (tensor.dims[0] % uint64_t(type.block) != 0)
        throw Error("gguf", "tensor '" + tensor.name + "': row length " + std::to_string(tensor.dims[0]) +
                                " is not a multiple of " + std::string(type.name) + "'s block of " + std::to_string(type.block));
    return numel / uint64_t(type.block) * type.bytes;
}

GgufLayout gguf_layout(const std::vector<GgufKv>& metadata, const std::vector<GgufTensorSpec>& tensors,
                       const std::string& subject) {
    return prepare(metadata, tensors, subject).layout;
}

uint64_t write_gguf(const std::filesystem::path& path, const std::vector<GgufKv>& metadata,
                    const std::vector<GgufTensorSpec>& tensors, const JobControl* job) {
    const std::string file = path.string();
    const Prepared p = prepare(metadata, tensors, file);
    AtomicFile out(path);
    out.write(p.header);
    out.pad_to(p.layout.alignment);
    for (size_t i = 0; i < tensors.size(); ++i) {
        if (job) job->step(int64_t(i), int64_t(tensors.size()), tensors[i].name);
        const std::vector<uint8_t> data = tensors[i].produce();
        if (data.size() != p.sizes[i])
            throw Error(file, "tensor '" + tensors[i].name + "': producer gave " + std::to_string(data.size()) +
                                  " bytes, its type and shape need " + std::to_string(p.sizes[i]));
        out.write(data);
        out.pad_to(p.layout.alignment);
    }
    if (job) job->step(int64_t(tensors.size()), int64_t(tensors.size()), "written");
    out.commit();
    return p.layout.file_size;
}

}  // namespace qb
