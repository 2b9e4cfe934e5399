// The number-format registry: one table describing how values are stored, consulted by every reader,
// codec, analysis, plan, exporter and GPU kernel. A format is data (name, geometry, bits, file-format ids)
// plus a row encoder/decoder. Storage types of input files (f32, f16, bf16, i8, fp8, ggml blocks) are
// formats too, so decoding any tensor is one lookup.
//
// Layout contract: a tensor of `rows` x `cols` values (row-major, cols = innermost, the GGUF dims[0])
// occupies header_bytes + rows * row_bytes(cols) bytes; row r starts at header_bytes + r * row_bytes(cols).
// Only whole-tensor-scaled formats have a header (their shared scale).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

enum class FormatKind {
    Float,       // f32, f16, bf16, f64: plain IEEE-style values
    Integer,     // i8, u8, i16, i32, i64: raw integers read as their value
    GgufBlock,   // ggml block types: q4_0 ... q6_k, iq4_nl, iq4_xs
    IntGrid,     // uniform integer grid, 2-8 bits, sym/asym, per group / channel / tensor
    Lookup4,     // 4-bit codes into a 16-value table with absmax scale per group: nf4, fp4
    MiniFloat,   // fp8 e4m3 / e5m2 values, no scale
    Microscaling // OCP MX: mxfp4, mxint8 (32 values share an E8M0 exponent)
};

std::string_view format_kind_name(FormatKind kind);  // "float", "gguf-block", "int-grid" ...

// Scale granularity of grid formats.
inline constexpr int64_t kPerChannel = 0;  // one scale (and zero) per row (output channel)
inline constexpr int64_t kPerTensor = -1;  // one scale (and zero) for the whole tensor

struct GridParams {
    int bits = 0;
    int64_t group = 0;       // values per group, or kPerChannel / kPerTensor
    bool asymmetric = false; // min/max with zero point instead of symmetric absmax
    bool clip_search = false;// search the clipping ratio that minimises the (weighted) MSE
};

struct FormatInfo;
// importance: optional per-column weights (length n, like llama.cpp's imatrix); header: the tensor
// header for whole-tensor formats, else nullptr.
using EncodeRowFn = void (*)(const FormatInfo&, const float* x, int64_t n, uint8_t* y, const float* importance,
                             const uint8_t* header);
using DecodeRowFn = void (*)(const FormatInfo&, const uint8_t* y, int64_t n, float* x, const uint8_t* header);
using RowBytesFn = size_t (*)(const FormatInfo&, int64_t cols);
using PrepareHeaderFn = void (*)(const FormatInfo&, const float* x, int64_t rows, int64_t cols,
                                 const float* importance, uint8_t* header);

struct FormatInfo {
    std::string name;          // registry key, lower case: "f16", "q4_k", "int4_g128_asym", "nf4"
    FormatKind kind = FormatKind::Float;
    std::string description;
    double nominal_bits = 0;   // bits per weight for a large row, scales included
    int64_t block_values = 1;  // values per block; rows must be a multiple. 0 = whole row (per-channel)
    size_t block_bytes = 0;    // bytes per block (fixed-block formats)
    size_t header_bytes = 0;   // whole-tensor header (kPerTensor grids)
    GridParams grid;           // IntGrid / Lookup4 / Microscaling parameters
    int ggml_type = -1;        // GGUF tensor type id, -1 if GGUF cannot store it
    std::string safetensors_dtype;  // "F16", "BF16", "F8_E4M3" ... if safetensors can store it natively
    EncodeRowFn encode_row = nullptr;  // nullptr: decode-only (read from files, cannot produce)
    DecodeRowFn decode_row = nullptr;
    RowBytesFn row_bytes_fn = nullptr; // for block_values == 0
    PrepareHeaderFn prepare_header = nullptr;

    size_t row_bytes(int64_t cols) const;
    size_t tensor_bytes(int64_t rows, int64_t cols) const { return header_bytes + size_t(rows) * row_bytes(cols); }
    double bits_per_weight(int64_t rows, int64_t cols) const;
    // Empty when a rows x cols tensor can be stored, else the reason ("row length 172 is not a multiple of 256").
    std::string shape_problem(int64_t cols) const;
    bool can_encode() const { return encode_row != nullptr; }
    bool gguf_storable() const { return ggml_type >= 0; }
};

// Lookup by name (case-insensitive). Integer-grid names are parsed on demand:
//   int<bits>_<g<N>|pc|pt>_<sym|asym>[_clip]    e.g. int4_g128_asym, int8_pc_sym, int3_g64_sym_clip
// Throws Error("format", "unknown format 'x' (known: ...)").
const FormatInfo& format_by_name(std::string_view name);
const FormatInfo* find_format(std::string_view name);  // nullptr when unknown
const FormatInfo* format_by_ggml_type(int ggml_type);
const FormatInfo* format_by_safetensors_dtype(std::string_view dtype);

// Geometry of every ggml tensor type, including those Quantbench cannot decode (IQ2_XXS ...), so a
// GGUF file can be parsed and listed whatever it holds. block == 0: unknown or retired id.
struct GgmlTypeInfo {
    std::string_view name;
    int64_t block = 0;
    size_t bytes = 0;
};
GgmlTypeInfo ggml_type_info(int ggml_type);

// The fixed list of registered formats (storage types and the preset grids), in a stable order.
std::span<const FormatInfo* const> registered_formats();

// Whole-tensor codecs. Rows are independent, so both run in parallel over row ranges.
// threads <= 0: all hardware threads.
void encode_tensor(const FormatInfo& f, const float* src, int64_t rows, int64_t cols, uint8_t* dst,
                   const float* importance = nullptr, int threads = 1);
void decode_rows(const FormatInfo& f, const uint8_t* tensor, int64_t cols, int64_t row_begin, int64_t row_count,
                 float* dst, int threads = 1);
std::vector<uint8_t> encode_tensor(const FormatInfo& f, std::span<const float> src, int64_t rows, int64_t cols,
                                   const float* importance = nullptr, int threads = 1);
std::vector<float> decode_tensor(const FormatInfo& f, std::span<const uint8_t> tensor, int64_t rows, int64_t cols,
                                 int threads = 1);

}  // namespace qb
