#include "core/io/llama2c_reader.h"

#include <cstring>

#include "core/util/byte_reader.h"
#include "core/util/error.h"

namespace qb {
namespace {

constexpr uint32_t kMagic = 0x616b3432;  // "ak42" read as a little-endian uint32
constexpr uint64_t kVersion1HeaderBytes = 256;

// Sizes a segment of the weight stream is made of.
enum class Extent { None, Vocab, Dim, Hidden, KvDim, SeqLen, HalfHead };

struct Segment {
    const char* name;  // "{N}" is replaced by the layer index
    bool per_layer;
    Extent rows;       // None: a 1-D tensor of `cols` values
    Extent cols;
    bool classifier = false;  // present only when the classifier is not shared with the embedding
    bool skipped = false;     // RoPE tables: stored, not weights
};

constexpr Segment kVersion0Order[] = {
    {"tok_embeddings.weight", false, Extent::Vocab, Extent::Dim},
    {"layers.{N}.attention_norm.weight", true, Extent::None, Extent::Dim},
    {"layers.{N}.attention.wq.weight", true, Extent::Dim, Extent::Dim},
    {"layers.{N}.attention.wk.weight", true, Extent::KvDim, Extent::Dim},
    {"layers.{N}.attention.wv.weight", true, Extent::KvDim, Extent::Dim},
    {"layers.{N}.attention.wo.weight", true, Extent::Dim, Extent::Dim},
    {"layers.{N}.ffn_norm.weight", true, Extent::None, Extent::Dim},
    {"layers.{N}.feed_forward.w1.weight", true, Extent::Hidden, Extent::Dim},
    {"layers.{N}.feed_forward.w2.weight", true, Extent::Dim, Extent::Hidden},
    {"layers.{N}.feed_forward.w3.weight", true, Extent::Hidden, Extent::Dim},
    {"norm.weight", false, Extent::None, Extent::Dim},
    {"freqs_cos", false, Extent::SeqLen, Extent::HalfHead, false, true},
    {"freqs_sin", false, Extent::SeqLen, Extent::HalfHead, false, true},
    {"output.weight", false, Extent::Vocab, Extent::Dim, true},
};

constexpr Segment kVersion1Order[] = {
    {"layers.{N}.attention_norm.weight", true, Extent::None, Extent::Dim},
    {"layers.{N}.ffn_norm.weight", true, Extent::None, Extent::Dim},
    {"norm.weight", false, Extent::None, Extent::Dim},
    {"tok_embeddings.weight", false, Extent::Vocab, Extent::Dim},
    {"layers.{N}.attention.wq.weight", true, Extent::Dim, Extent::Dim},
    {"layers.{N}.attention.wk.weight", true, Extent::KvDim, Extent::Dim},
    {"layers.{N}.attention.wv.weight", true, Extent::KvDim, Extent::Dim},
    {"layers.{N}.attention.wo.weight", true, Extent::Dim, Extent::Dim},
    {"layers.{N}.feed_forward.w1.weight", true, Extent::Hidden, Extent::Dim},
    {"layers.{N}.feed_forward.w2.weight", true, Extent::Dim, Extent::Hidden},
    {"layers.{N}.feed_forward.w3.weight", true, Extent::Hidden, Extent::Dim},
    {"output.weight", false, Extent::Vocab, Extent::Dim, true},
};

int64_t extent(Extent e, const Llama2cConfig& c) {
    switch (e) {
        case Extent::None: return 1;
        case Extent::Vocab: return c.vocab_size;
        case Extent::Dim: return c.dim;
        case Extent::Hidden: return c.hidden_dim;
        case Extent::KvDim: return c.dim / c.n_heads * c.n_kv_heads;
        case Extent::SeqLen: return c.seq_len;
        case Extent::HalfHead: return c.dim / c.n_heads / 2;
    }
    return 0;
}

std::string layer_name(const char* pattern, int64_t layer) {
    std::string name = pattern;
    if (auto at = name.find("{N}"); at != std::string::npos) name.replace(at, 3, std::to_string(layer));
    return name;
}

void check_range(ByteReader& in, const char* field, int64_t value, int64_t max) {
    if (value < 1 || value > max)
        in.fail("header value " + std::string(field) + " = " + std::to_string(value) + " is out of range (1.." +
                std::to_string(max) + ")");
}

// Reads dim .. seq_len and checks that they describe a network (the limits keep every size product
// far below 2^63, so the size arithmetic cannot overflow).
void read_dimensions(ByteReader& in, Llama2cConfig& c) {
    c.dim = in.read<int32_t>("dim");
    c.hidden_dim = in.read<int32_t>("hidden_dim");
    c.n_layers = in.read<int32_t>("n_layers");
    c.n_heads = in.read<int32_t>("n_heads");
    c.n_kv_heads = in.read<int32_t>("n_kv_heads");
    const int64_t vocab = in.read<int32_t>("vocab_size");
    c.seq_len = in.read<int32_t>("seq_len");
    c.vocab_size = vocab < 0 ? -vocab : vocab;
    c.shared_classifier = vocab > 0;
    check_range(in, "dim", c.dim, 1 << 20);
    check_range(in, "hidden_dim", c.hidden_dim, 1 << 20);
    check_range(in, "n_layers", c.n_layers, 4096);
    check_range(in, "n_heads", c.n_heads, c.dim);
    check_range(in, "n_kv_heads", c.n_kv_heads, c.n_heads);
    check_range(in, "vocab_size", c.vocab_size, 1 << 24);
    check_range(in, "seq_len", c.seq_len, 1 << 24);
    if (c.dim % c.n_heads != 0 || (c.dim / c.n_heads) % 2 != 0)
        in.fail("dim " + std::to_string(c.dim) + " does not split into " + std::to_string(c.n_heads) +
                " heads of even size");
    if (c.n_heads % c.n_kv_heads != 0)
        in.fail("n_heads " + std::to_string(c.n_heads) + " is not a multiple of n_kv_heads " +
                std::to_string(c.n_kv_heads));
}

bool has_magic(std::span<const uint8_t> bytes) {
    uint32_t magic = 0;
    if (bytes.size() < sizeof magic) return false;
    std::memcpy(&magic, bytes.data(), sizeof magic);
    return magic == kMagic;
}

// Reads the legacy or version-1 header; returns the offset of the first weight.
uint64_t read_header(ByteReader& in, std::span<const uint8_t> file, Llama2cConfig& c) {
    if (!has_magic(file)) {
        read_dimensions(in, c);
        return in.offset();
    }
    in.skip(4, "magic");
    const int32_t version = in.read<int32_t>("version");
    if (version == 2) in.fail("llama2.c version 2 checkpoints (int8 groups) are not supported; export version 0 or 1");
    if (version != 1) in.fail("unknown llama2.c checkpoint version " + std::to_string(version));
    c.version = 1;
    read_dimensions(in, c);
    c.shared_classifier = in.read<uint8_t>("shared classifier flag") != 0;
    in.skip(kVersion1HeaderBytes - in.offset(), "header padding");
    return kVersion1HeaderBytes;
}

std::span<const Segment> weight_order(int version) {
    if (version == 1) return kVersion1Order;
    return kVersion0Order;
}

}  // namespace

Llama2cFile::Llama2cFile(const std::filesystem::path& path) : file_(std::make_shared<MappedFile>(path)) {
    ByteReader in(file_->bytes(), file_->name());
    uint64_t offset = read_header(in, file_->bytes(), config_);
    const auto order = weight_order(config_.version);

    uint64_t expected = offset;
    for (const Segment& s : order)
        if (!s.classifier || !config_.shared_classifier)
            expected += (s.per_layer ? uint64_t(config_.n_layers) : 1) * uint64_t(extent(s.rows, config_)) *
                        uint64_t(extent(s.cols, config_)) * sizeof(float);
    if (expected != file_->size())
        in.fail("file has " + std::to_string(file_->size()) + " bytes, but its llama2.c v" +
                std::to_string(config_.version) + " header (dim " + std::to_string(config_.dim) + ", " +
                std::to_string(config_.n_layers) + " layers, vocab " + std::to_string(config_.vocab_size) +
                ") implies " + std::to_string(expected));

    for (const Segment& s : order) {
        if (s.classifier && config_.shared_classifier) continue;
        const int64_t rows = extent(s.rows, config_), cols = extent(s.cols, config_);
        const uint64_t bytes = uint64_t(rows * cols) * sizeof(float);
        for (int64_t layer = 0; layer < (s.per_layer ? config_.n_layers : 1); ++layer) {
            if (!s.skipped) {
                Llama2cTensor t;
                t.name = layer_name(s.name, layer);
                t.shape = s.rows == Extent::None ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
                t.data = file_->bytes().subspan(offset, bytes);
                tensors_.push_back(std::move(t));
            }
            offset += bytes;
        }
    }
}

std::optional<std::filesystem::path> Llama2cFile::tokenizer_path() const {
    const auto folder = file_->path().parent_path();
    const std::string sized = std::string("tok").append(std::to_string(config_.vocab_size)).append(".bin");
    for (const std::string& candidate : {sized, std::string("tokenizer.bin")}) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(folder / candidate, ec)) return folder / candidate;
    }
    return std::nullopt;
}

}  // namespace qb
