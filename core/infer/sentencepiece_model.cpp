#include "core/infer/sentencepiece_model.h"

#include <bit>

#include "core/util/byte_reader.h"
#include "core/util/error.h"

namespace qb {
namespace {

enum class WireType : uint32_t { Varint = 0, Fixed64 = 1, Bytes = 2, Fixed32 = 5 };

struct Field {
    uint32_t number = 0;
    WireType wire = WireType::Varint;
    uint64_t varint = 0;               // Varint, Fixed64 and Fixed32 values
    std::span<const uint8_t> bytes;    // Bytes payload (a string or a nested message)

    float as_float() const { return std::bit_cast<float>(uint32_t(varint)); }
    bool as_bool() const { return varint != 0; }
    int32_t as_int32() const { return int32_t(uint32_t(varint)); }  // negative int32 values are 10-byte varints
    std::string as_string() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
};

// Iterates over the fields of one message.
class ProtoReader {
public:
    ProtoReader(std::span<const uint8_t> bytes, const std::string& file, std::string message)
        : reader_(bytes, file), message_(std::move(message)) {}

    bool next(Field& field) {
        if (reader_.remaining() == 0) return false;
        const uint64_t key = varint("field key");
        field.number = uint32_t(key >> 3);
        field.wire = WireType(key & 7);
        const std::string what = message_ + " field " + std::to_string(field.number);
        switch (field.wire) {
            case WireType::Varint: field.varint = varint(what); break;
            case WireType::Fixed64: field.varint = reader_.read<uint64_t>(what); break;
            case WireType::Fixed32: field.varint = reader_.read<uint32_t>(what); break;
            case WireType::Bytes: {
                const uint64_t size = varint(what + " length");
                field.bytes = {reader_.take(size, what), size_t(size)};
                break;
            }
            default:
                reader_.fail("not a SentencePiece model: " + what + " has unsupported protobuf wire type " +
                             std::to_string(key & 7) + " at offset " + std::to_string(reader_.offset()));
        }
        if (field.number == 0) reader_.fail("not a SentencePiece model: protobuf field number 0 in " + message_);
        return true;
    }

private:
    uint64_t varint(const std::string& what) {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const uint8_t byte = reader_.read<uint8_t>(what);
            value |= uint64_t(byte & 0x7F) << shift;
            if (!(byte & 0x80)) return value;
        }
        reader_.fail("not a SentencePiece model: overlong varint in " + what);
    }

    ByteReader reader_;
    std::string message_;
};

void require_wire(const Field& field, WireType wire, const std::string& file, const char* name) {
    if (field.wire != wire) throw Error(file, std::string("not a SentencePiece model: ") + name + " has the wrong wire type");
}

TokenType piece_type(const Field& field, size_t index, const std::string& file) {
    if (field.varint < 1 || field.varint > 6)
        throw Error(file, "piece " + std::to_string(index) + " has unknown type " + std::to_string(field.varint));
    return TokenType(field.varint);
}

void read_piece(std::span<const uint8_t> bytes, const std::string& file, Vocabulary& vocab) {
    const size_t index = vocab.pieces.size();
    std::string piece;
    float score = 0.0f;
    TokenType type = TokenType::Normal;
    ProtoReader reader(bytes, file, "piece " + std::to_string(index));
    for (Field f; reader.next(f);) {
        switch (f.number) {
            case 1:
                require_wire(f, WireType::Bytes, file, "piece text");
                piece = f.as_string();
                break;
            case 2:
                require_wire(f, WireType::Fixed32, file, "piece score");
                score = f.as_float();
                break;
            case 3:
                require_wire(f, WireType::Varint, file, "piece type");
                type = piece_type(f, index, file);
                break;
        }
    }
    vocab.pieces.push_back(std::move(piece));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
}

void read_trainer_spec(std::span<const uint8_t> bytes, const std::string& file, Vocabulary& vocab) {
    constexpr uint64_t kUnigram = 1, kBpe = 2;
    uint64_t model_type = kUnigram;  // proto default
    ProtoReader reader(bytes, file, "trainer_spec");
    for (Field f; reader.next(f);) {
        if (f.wire != WireType::Varint) continue;
        switch (f.number) {
            case 3: model_type = f.varint; break;
            case 24:
                if (f.as_bool()) throw Error(file, "SentencePiece treat_whitespace_as_suffix is not supported");
                break;
            case 40: vocab.unk_id = f.as_int32(); break;
            case 41: vocab.bos_id = f.as_int32(); break;
            case 42: vocab.eos_id = f.as_int32(); break;
            case 43: vocab.pad_id = f.as_int32(); break;
        }
    }
    if (model_type != kBpe && model_type != kUnigram) {
        static const char* const kNames[] = {"?", "unigram", "bpe", "word", "char"};
        const std::string name = model_type < 5 ? kNames[model_type] : std::to_string(model_type);
        throw Error(file, "SentencePiece model type '" + name + "' is not supported (only bpe and unigram)");
    }
    vocab.algorithm = model_type == kBpe ? TokenizerAlgorithm::SentencePiece : TokenizerAlgorithm::Unigram;
}

void read_normalizer_spec(std::span<const uint8_t> bytes, const std::string& file, Vocabulary& vocab) {
    ProtoReader reader(bytes, file, "normalizer_spec");
    for (Field f; reader.next(f);) {
        if (f.number == 2 && f.wire == WireType::Bytes) vocab.precompiled_charsmap = f.as_string();
        if (f.wire != WireType::Varint) continue;
        if (f.number == 3) vocab.add_space_prefix = f.as_bool();
        else if (f.number == 4) vocab.remove_extra_whitespaces = f.as_bool();
        else if (f.number == 5 && !f.as_bool()) throw Error(file, "SentencePiece escape_whitespaces=false is not supported");
    }
}

}  // namespace

Vocabulary read_sentencepiece_model(std::span<const uint8_t> bytes, const std::string& file) {
    Vocabulary vocab;
    vocab.source = file;
    // ModelProto defaults for fields a file may leave out.
    vocab.unk_id = 0;
    vocab.bos_id = 1;
    vocab.eos_id = 2;
    vocab.pad_id = -1;
    vocab.add_space_prefix = true;
    vocab.remove_extra_whitespaces = true;
    bool has_trainer_spec = false;
    ProtoReader reader(bytes, file, "ModelProto");
    for (Field f; reader.next(f);) {
        if (f.number > 3) continue;  // self_test_data, denormalizer_spec
        require_wire(f, WireType::Bytes, file, "ModelProto field");
        if (f.number == 1) {
            read_piece(f.bytes, file, vocab);
        } else if (f.number == 2) {
            read_trainer_spec(f.bytes, file, vocab);
            has_trainer_spec = true;
        } else {
            read_normalizer_spec(f.bytes, file, vocab);
        }
    }
    if (vocab.pieces.empty()) throw Error(file, "not a SentencePiece model: it has no pieces");
    if (!has_trainer_spec) throw Error(file, "SentencePiece model has no trainer_spec, so its model type is unknown");
    vocab.add_bos = vocab.bos_id >= 0;
    return vocab;
}

}  // namespace qb
