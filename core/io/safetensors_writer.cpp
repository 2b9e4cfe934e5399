#include "core/io/safetensors_writer.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/quant/format.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

namespace qb {
namespace {

uint64_t data_bytes(const SafetensorsOutput& t, const std::string& file) {
    const FormatInfo* f = format_by_safetensors_dtype(t.dtype);
    if (!f || f->block_values != 1) throw Error(file, "tensor '" + t.name + "': unknown dtype '" + t.dtype + "'");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
        if (d < 0) throw Error(file, "tensor '" + t.name + "' has a negative dimension");
        numel *= uint64_t(d);
    }
    return numel * f->block_bytes;
}

std::string header_text(const std::vector<SafetensorsOutput>& tensors, const std::vector<uint64_t>& sizes,
                        const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    uint64_t offset = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        header[tensors[i].name] = {{"dtype", tensors[i].dtype},
                                   {"shape", tensors[i].shape},
                                   {"data_offsets", {offset, offset + sizes[i]}}};
        offset += sizes[i];
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // 8-byte length + padded header keep the data 8-byte aligned
    return text;
}

void write_data(AtomicFile& out, const SafetensorsOutput& t, uint64_t expected, const std::string& file) {
    if (!t.produce) {
        if (t.bytes.size() != expected)
            throw Error(file, "tensor '" + t.name + "': " + std::to_string(t.bytes.size()) + " bytes given, shape needs " +
                                  std::to_string(expected));
        out.write(t.bytes);
        return;
    }
    uint64_t written = 0;
    t.produce([&](std::span<const uint8_t> chunk) {
        written += chunk.size();
        if (written > expected)
            throw Error(file, "tensor '" + t.name + "': producer wrote more than the " + std::to_string(expected) +
                                  " bytes its shape needs");
        out.write(chunk);
    });
    if (written != expected)
        throw Error(file, "tensor '" + t.name + "': producer wrote " + std::to_string(written) + " bytes, shape needs " +
                              std::to_string(expected));
}

void write_u64_le(AtomicFile& out, uint64_t value) {
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = uint8_t(value >> (8 * i));
    out.write(bytes, sizeof bytes);
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const std::vector<SafetensorsOutput>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    const std::string file = path.string();
    std::set<std::string> names;
    std::vector<uint64_t> sizes;
    for (const auto& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__") throw Error(file, "invalid tensor name '" + t.name + "'");
        if (!names.insert(t.name).second) throw Error(file, "tensor '" + t.name + "' is given twice");
        sizes.push_back(data_bytes(t, file));
    }
    const std::string header = header_text(tensors, sizes, metadata);
    AtomicFile out(path);
    write_u64_le(out, header.size());
    out.write(header.data(), header.size());
    for (size_t i = 0; i < tensors.size(); ++i) write_data(out, tensors[i], sizes[i], file);
    out.commit();
}

void write_safetensors_index(const std::filesystem::path& path, const std::map<std::string, std::string>& weight_map,
                             uint64_t total_size) {
    const nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
    const std::string text = index.dump(2) + "\n";
    AtomicFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace qb
