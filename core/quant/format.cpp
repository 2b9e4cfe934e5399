#include "core/quant/format.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <mutex>

#include "core/quant/format_families.h"
#include "core/util/error.h"
#include "core/util/parallel.h"

namespace qb {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

struct Registry {
    std::vector<FormatInfo> table;
    std::vector<const FormatInfo*> fixed;
    std::mutex parsed_mutex;
    std::deque<FormatInfo> parsed;  // grid formats built from names; deque keeps pointers stable

    Registry() {
        add_plain_formats(table);
        add_gguf_legacy_formats(table);
        add_gguf_kquant_formats(table);
        add_grid_formats(table);
        add_scaled_float_formats(table);
        for (const auto& f : table) fixed.push_back(&f);
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

std::string_view format_kind_name(FormatKind kind) {
    static constexpr std::string_view names[] = {"float", "integer", "gguf-block", "int-grid", "lookup4", "minifloat", "mx"};
    return names[size_t(kind)];
}

size_t FormatInfo::row_bytes(int64_t cols) const {
    if (block_values == 0) return row_bytes_fn(*this, cols);
    return size_t(cols / block_values) * block_bytes;
}

double FormatInfo::bits_per_weight(int64_t rows, int64_t cols) const {
    if (rows <= 0 || cols <= 0) return nominal_bits;
    return 8.0 * double(tensor_bytes(rows, cols)) / (double(rows) * double(cols));
}

std::string FormatInfo::shape_problem(int64_t cols) const {
    if (cols <= 0) return "row length " + std::to_string(cols) + " is not positive";
    if (block_values > 1 && cols % block_values != 0)
        return "row length " + std::to_string(cols) + " is not a multiple of " + name + "'s block of " +
               std::to_string(block_values);
    return {};
}

const FormatInfo* find_format(std::string_view name) {
    Registry& r = registry();
    const std::string key = lower(name);
    for (const auto& f : r.table)
        if (f.name == key) return &f;
    std::lock_guard lock(r.parsed_mutex);
    for (const auto& f : r.parsed)
        if (f.name == key) return &f;
    if (auto grid = parse_grid_format(key)) return &r.parsed.emplace_back(std::move(*grid));
    return nullptr;
}

const FormatInfo& format_by_name(std::string_view name) {
    if (const FormatInfo* f = find_format(name)) return *f;
    std::string known;
    for (const FormatInfo* f : registered_formats()) known += (known.empty() ? "" : ", ") + f->name;
    throw Error("format", "unknown format '" + std::string(name) + "' (known: " + known +
                          "; integer grids as int<2-8>_<gN|pc|pt>_<sym|asym>[_clip])");
}

const FormatInfo* format_by_ggml_type(int ggml_type) {
    for (const auto& f : registry().table)
        if (f.ggml_type == ggml_type && ggml_type >= 0) return &f;
    return nullptr;
}

const FormatInfo* format_by_safetensors_dtype(std::string_view dtype) {
    for (const auto& f : registry().table)
        if (!f.safetensors_dtype.empty() && f.safetensors_dtype == dtype) return &f;
    return nullptr;
}

GgmlTypeInfo ggml_type_info(int ggml_type) {
    static constexpr GgmlTypeInfo types[] = {
        {"F32", 1, 4},        {"F16", 1, 2},        {"Q4_0", 32, 18},    {"Q4_1", 32, 20},   {"Q4_2", 0, 0},
        {"Q4_3", 0, 0},       {"Q5_0", 32, 22},     {"Q5_1", 32, 24},    {"Q8_0", 32, 34},   {"Q8_1", 32, 36},
        {"Q2_K", 256, 84},    {"Q3_K", 256, 110},   {"Q4_K", 256, 144},  {"Q5_K", 256, 176}, {"Q6_K", 256, 210},
        {"Q8_K", 256, 292},   {"IQ2_XXS", 256, 66}, {"IQ2_XS", 256, 74}, {"IQ3_XXS", 256, 98}, {"IQ1_S", 256, 50},
        {"IQ4_NL", 32, 18},   {"IQ3_S", 256, 110},  {"IQ2_S", 256, 82},  {"IQ4_XS", 256, 136}, {"I8", 1, 1},
        {"I16", 1, 2},        {"I32", 1, 4},        {"I64", 1, 8},       {"F64", 1, 8},      {"IQ1_M", 256, 56},
        {"BF16", 1, 2},       {"Q4_0_4_4", 0, 0},   {"Q4_0_4_8", 0, 0},  {"Q4_0_8_8", 0, 0}, {"TQ1_0", 256, 54},
        {"TQ2_0", 256, 66},   {"IQ4_NL_4_4", 0, 0}, {"IQ4_NL_4_8", 0, 0}, {"IQ4_NL_8_8", 0, 0}, {"MXFP4", 32, 17}};
    if (ggml_type < 0 || ggml_type >= int(std::size(types))) return {};
    return types[ggml_type];
}

std::span<const FormatInfo* const> registered_formats() { return registry().fixed; }

void encode_tensor(const FormatInfo& f, const float* src, int64_t rows, int64_t cols, uint8_t* dst,
                   const float* importance, int threads) {
    if (!f.can_encode()) throw Error("format " + f.name, "can be read but not produced");
    if (auto problem = f.shape_problem(cols); !problem.empty()) throw Error("format " + f.name, problem);
    if (f.prepare_header) f.prepare_header(f, src, rows, cols, importance, dst);
    const uint8_t* header = f.header_bytes ? dst : nullptr;
    uint8_t* body = dst + f.header_bytes;
    const size_t row_bytes = f.row_bytes(cols);
    parallel_for(rows, threads, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
            f.encode_row(f, src + r * cols, cols, body + size_t(r) * row_bytes, importance, header);
    });
}

void decode_rows(const FormatInfo& f, const uint8_t* tensor, int64_t cols, int64_t row_begin, int64_t row_count,
                 float* dst, int threads) {
    if (!f.decode_row) throw Error("format " + f.name, "cannot be decoded");
    if (auto problem = f.shape_problem(cols); !problem.empty()) throw Error("format " + f.name, problem);
    const uint8_t* header = f.header_bytes ? tensor : nullptr;
    const uint8_t* body = tensor + f.header_bytes;
    const size_t row_bytes = f.row_bytes(cols);
    parallel_for(row_count, threads, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
            f.decode_row(f, body + size_t(row_begin + i) * row_bytes, cols, dst + i * cols, header);
    });
}

std::vector<uint8_t> encode_tensor(const FormatInfo& f, std::span<const float> src, int64_t rows, int64_t cols,
                                   const float* importance, int threads) {
    if (int64_t(src.size()) != rows * cols) throw Error("format " + f.name, "input size does not match shape");
    std::vector<uint8_t> out(f.tensor_bytes(rows, cols));
    encode_tensor(f, src.data(), rows, cols, out.data(), importance, threads);
    return out;
}

std::vector<float> decode_tensor(const FormatInfo& f, std::span<const uint8_t> tensor, int64_t rows, int64_t cols,
                                 int threads) {
    if (tensor.size() < f.tensor_bytes(rows, cols)) throw Error("format " + f.name, "tensor data shorter than its shape needs");
    std::vector<float> out(size_t(rows * cols));
    decode_rows(f, tensor.data(), cols, 0, rows, out.data(), threads);
    return out;
}

}  // namespace qb
