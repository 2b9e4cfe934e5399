#include "core/io/safetensors_reader.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <set>

#include "core/io/json_text.h"
#include "core/util/byte_reader.h"
#include "core/util/error.h"

namespace qb {
namespace {

// The reference implementation refuses headers above 100 MB; so do we, before parsing anything.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kMaxElements = uint64_t(1) << 50;

// Every dtype of the specification, so that a valid but unsupported one is told apart from garbage.
constexpr std::array<std::string_view, 17> kSpecDtypes = {"BOOL", "U8",   "I8",  "F8_E5M2", "F8_E4M3", "I16",
                                                          "U16",  "F16",  "BF16", "I32",    "U32",     "F32",
                                                          "F64",  "I64",  "U64", "F8_E8M0", "F4"};

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

const FormatInfo& dtype_format(const std::string& dtype, const std::string& tensor, const std::string& file) {
    const FormatInfo* f = format_by_safetensors_dtype(dtype);
    if (f && f->block_values == 1) return *f;
    if (std::find(kSpecDtypes.begin(), kSpecDtypes.end(), dtype) != kSpecDtypes.end())
        throw Error(file, "tensor '" + tensor + "' has dtype " + dtype + ", which Quantbench cannot read");
    throw Error(file, "tensor '" + tensor + "' has unknown dtype '" + dtype + "'");
}

bool read_count(const nlohmann::json& j, uint64_t& out) {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) return false;
    out = j.get<uint64_t>();
    return true;
}

std::vector<int64_t> read_shape(const nlohmann::json& entry, const std::string& tensor, const std::string& file) {
    auto fail = [&] { throw Error(file, "tensor '" + tensor + "': 'shape' is missing or not a list of sizes"); };
    auto it = entry.find("shape");
    if (it == entry.end() || !it->is_array()) fail();
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : *it) {
        uint64_t dim = 0;
        if (!read_count(d, dim)) fail();
        if (dim > kMaxElements || (dim != 0 && numel > kMaxElements / dim))
            throw Error(file, "tensor '" + tensor + "' has an impossible shape");
        numel *= dim;
        shape.push_back(int64_t(dim));
    }
    return shape;
}

std::map<std::string, std::string> read_metadata(const nlohmann::json& j, const std::string& file) {
    if (!j.is_object()) throw Error(file, "__metadata__ must map names to strings");
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : j.items()) {
        if (!value.is_string()) throw Error(file, "__metadata__ must map names to strings");
        out[key] = value.get<std::string>();
    }
    return out;
}

struct Placement {
    uint64_t begin = 0, end = 0;
};

Placement read_offsets(const nlohmann::json& entry, const SafetensorsTensor& t, uint64_t data_size,
                       const std::string& file) {
    auto it = entry.find("data_offsets");
    Placement p;
    if (it == entry.end() || !it->is_array() || it->size() != 2 || !read_count((*it)[0], p.begin) ||
        !read_count((*it)[1], p.end))
        throw Error(file, "tensor '" + t.name + "': 'data_offsets' is missing or not two byte offsets");
    const std::string offsets = std::string("[").append(std::to_string(p.begin)).append(", ").append(std::to_string(p.end)) + "]";
    if (p.begin > p.end) throw Error(file, "tensor '" + t.name + "': data_offsets " + offsets + " are reversed");
    if (p.end > data_size)
        throw Error(file, "tensor '" + t.name + "': data_offsets " + offsets + " run past the end of the data (" +
                              std::to_string(data_size) + " bytes)");
    const uint64_t needed = uint64_t(t.numel()) * t.format->block_bytes;
    if (p.end - p.begin != needed)
        throw Error(file, "tensor '" + t.name + "': data_offsets " + offsets + " hold " +
                              std::to_string(p.end - p.begin) + " bytes, but shape " + shape_text(t.shape) + " of " +
                              t.dtype + " needs " + std::to_string(needed));
    return p;
}

}  // namespace

int64_t SafetensorsTensor::numel() const {
    return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(std::make_shared<MappedFile>(path)) {
    const std::string file = file_->name();
    ByteReader in(file_->bytes(), file);
    const uint64_t header_len = in.read<uint64_t>("header length");
    if (header_len > kMaxHeaderBytes)
        in.fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
                std::to_string(kMaxHeaderBytes) + " bytes");
    if (header_len > in.remaining())
        in.fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(file_->size()) + " bytes)");
    const auto* text = reinterpret_cast<const char*>(in.take(header_len, "header"));
    data_offset_ = in.offset();
    const uint64_t data_size = in.remaining();

    const nlohmann::json header = parse_json_text({text, header_len}, file, "header");
    if (!header.is_object()) in.fail("header is not a JSON object");
    std::vector<std::pair<Placement, size_t>> placements;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            metadata_ = read_metadata(entry, file);
            continue;
        }
        if (!entry.is_object()) in.fail("tensor '" + name + "': entry is not an object");
        SafetensorsTensor t;
        t.name = name;
        auto dtype = entry.find("dtype");
        if (dtype == entry.end() || !dtype->is_string()) in.fail("tensor '" + name + "': 'dtype' is missing or not a string");
        t.dtype = dtype->get<std::string>();
        t.shape = read_shape(entry, name, file);
        t.format = &dtype_format(t.dtype, name, file);
        const Placement p = read_offsets(entry, t, data_size, file);
        t.data = file_->bytes().subspan(data_offset_ + p.begin, p.end - p.begin);
        placements.emplace_back(p, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    std::sort(placements.begin(), placements.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.begin, a.first.end) < std::tie(b.first.begin, b.first.end);
    });
    const std::pair<Placement, size_t>* previous = nullptr;
    for (const auto& current : placements) {
        if (current.first.begin == current.first.end) continue;  // empty tensors occupy no bytes
        if (previous && previous->first.end > current.first.begin) {
            const auto range = [](const Placement& p) { return std::to_string(p.begin) + ".." + std::to_string(p.end); };
            in.fail("tensors '" + tensors_[previous->second].name + "' and '" + tensors_[current.second].name +
                    "' overlap (bytes " + range(previous->first) + " and " + range(current.first) + ")");
        }
        previous = &current;
    }
    std::vector<SafetensorsTensor> ordered;
    ordered.reserve(tensors_.size());
    for (const auto& p : placements) ordered.push_back(std::move(tensors_[p.second]));
    tensors_ = std::move(ordered);
}

const SafetensorsTensor* SafetensorsFile::find_tensor(const std::string& tensor_name) const {
    for (const auto& t : tensors_)
        if (t.name == tensor_name) return &t;
    return nullptr;
}

SafetensorsSet::SafetensorsSet(const std::filesystem::path& path) : path_(path) {
    sharded_ = path.extension() == ".json";
    if (sharded_) load_index();
    else shards_.push_back(std::make_shared<SafetensorsFile>(path));
    collect_tensors();
}

void SafetensorsSet::load_index() {
    const std::string index = path_.string();
    const nlohmann::json j = read_json_file(path_);
    auto weight_map = j.is_object() ? j.find("weight_map") : j.end();
    if (!j.is_object() || weight_map == j.end() || !weight_map->is_object())
        throw Error(index, "no 'weight_map' object mapping tensors to shard files");
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> by_name;
    for (const auto& [tensor, shard_json] : weight_map->items()) {
        if (!shard_json.is_string()) throw Error(index, "weight_map entry for '" + tensor + "' is not a file name");
        const std::string shard = shard_json.get<std::string>();
        if (shard.empty() || std::filesystem::path(shard).filename() != shard || shard == "..")
            throw Error(index, "shard '" + shard + "' (for tensor '" + tensor + "') is not a file name beside the index");
        auto it = by_name.find(shard);
        if (it == by_name.end()) {
            const auto shard_path = path_.parent_path() / shard;
            std::error_code ec;
            if (!std::filesystem::exists(shard_path, ec))
                throw Error(index, "shard '" + shard + "' (for tensor '" + tensor + "') does not exist");
            it = by_name.emplace(shard, std::make_shared<SafetensorsFile>(shard_path)).first;
            shards_.push_back(it->second);
        }
        if (!it->second->find_tensor(tensor))
            throw Error(index, "tensor '" + tensor + "' is listed in shard '" + shard + "', which does not contain it");
    }
    if (shards_.empty()) throw Error(index, "weight_map lists no tensors");
    std::sort(shards_.begin(), shards_.end(), [](const auto& a, const auto& b) { return a->name() < b->name(); });
}

void SafetensorsSet::collect_tensors() {
    std::map<std::string_view, const SafetensorsFile*> owner;
    for (const auto& shard : shards_)
        for (const auto& t : shard->tensors()) {
            auto [it, fresh] = owner.emplace(t.name, shard.get());
            if (!fresh)
                throw Error(path_.string(), "tensor '" + t.name + "' appears in both " +
                                                it->second->path().filename().string() + " and " +
                                                shard->path().filename().string());
            tensors_.push_back({&t, shard});
        }
}

}  // namespace qb
