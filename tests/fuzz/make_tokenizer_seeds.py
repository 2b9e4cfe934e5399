#!/usr/bin/env python3
"""Writes small seed inputs for the tokenizer fuzz targets (scripts/fuzz.sh calls it; stdlib only).

Usage: make_tokenizer_seeds.py <target> <corpus dir> <shared data dir> <repository root>
Targets: fuzz_tokenizer_model, fuzz_tokenizer_json, fuzz_llama2c_tokenizer, fuzz_gguf_tokenizer.
Small vocabularies keep executions fast: the real 512-piece stories260K files are copied in, the 32,000-piece
Llama 2 ones are left out (same formats; one execution on them takes ~40 ms, ten times a small one).
"""
import os
import shutil
import struct
import sys

# ---- SentencePiece ModelProto (protobuf wire format) ----


def varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data):
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        elif wire == 2:
            size, pos = varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError("wire type %d" % wire)
        yield number, wire, value


def read_sentencepiece(path):
    """(pieces [(bytes, score, type)], charsmap bytes) of a tokenizer.model."""
    pieces, charsmap = [], b""
    for number, _, value in fields(open(path, "rb").read()):
        if number == 1:
            piece, score, kind = b"", 0.0, 1
            for n, _, v in fields(value):
                if n == 1:
                    piece = v
                elif n == 2:
                    score = struct.unpack("<f", v)[0]
                elif n == 3:
                    kind = v
            pieces.append((piece, score, kind))
        elif number == 3:
            for n, _, v in fields(value):
                if n == 2:
                    charsmap = v
    return pieces, charsmap


# ---- GGUF (vocabulary only, no tensors) ----

STRING, ARRAY, U32, I32, F32, BOOL = 8, 9, 4, 5, 6, 7


def gguf_string(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, kind, value, element=None):
    out = gguf_string(key) + struct.pack("<I", kind)
    if kind == STRING:
        return out + gguf_string(value)
    if kind == U32:
        return out + struct.pack("<I", value)
    if kind == BOOL:
        return out + struct.pack("<B", int(value))
    assert kind == ARRAY
    out += struct.pack("<IQ", element, len(value))
    pack = {STRING: gguf_string, I32: lambda v: struct.pack("<i", v), F32: lambda v: struct.pack("<f", v)}[element]
    return out + b"".join(pack(v) for v in value)


def gguf(kvs):
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)


def gguf_sentencepiece(model, pieces, flags=(), charsmap=b""):
    kvs = [gguf_kv("general.architecture", STRING, "llama"), gguf_kv("tokenizer.ggml.model", STRING, model),
           gguf_kv("tokenizer.ggml.tokens", ARRAY, [p for p, _, _ in pieces], STRING),
           gguf_kv("tokenizer.ggml.scores", ARRAY, [s for _, s, _ in pieces], F32),
           gguf_kv("tokenizer.ggml.token_type", ARRAY, [t for _, _, t in pieces], I32)]
    kvs += [gguf_kv(key, kind, value) for key, kind, value in flags]
    if charsmap:
        kvs.append(gguf_kv("tokenizer.ggml.precompiled_charsmap", ARRAY, [b - 256 if b > 127 else b for b in charsmap], I32))
    return gguf(kvs)


# ---- byte-level BPE: a small GPT-2 style vocabulary ----


def byte_alphabet():
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or b >= 0xAE]
    chars, substitute = {}, 0x100
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(substitute)
            substitute += 1
    return chars


def tiny_bpe():
    """(pieces, merges): the byte alphabet plus merges learnt greedily from a fixed text."""
    alphabet = byte_alphabet()
    text = ("Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. "
            "It's 2024; they're here and we'll see 12345 numbers.\n\n  Ünïcödé 世界 😀 ").encode()
    words = []
    for word in text.replace(b"\n", b" \n").split(b" "):
        words.append([alphabet[b] for b in (b" " + word if word else b" ")])
    pieces = [alphabet[b] for b in range(256)]
    merges = []
    for _ in range(120):
        counts = {}
        for w in words:
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], p))
        if counts[best] < 2:
            break
        merges.append(best)
        if best[0] + best[1] not in pieces:
            pieces.append(best[0] + best[1])
        for i, w in enumerate(words):
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and (w[k], w[k + 1]) == best:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            words[i] = out
    return pieces, merges


def tokenizer_json(pieces, merges, pre_tokenizer, merges_as_pairs, post_processor=True):
    import json
    vocab = {p: i for i, p in enumerate(pieces)}
    special = len(pieces)
    root = {
        "version": "1.0",
        "added_tokens": [{"id": special, "content": "<|endoftext|>", "special": True},
                         {"id": special + 1, "content": "<|user|>", "special": False}],
        "pre_tokenizer": pre_tokenizer,
        "model": {"type": "BPE", "unk_token": None, "vocab": vocab,
                  "merges": [list(m) if merges_as_pairs else m[0] + " " + m[1] for m in merges]},
    }
    if post_processor:
        root["post_processor"] = {"type": "TemplateProcessing",
                                  "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                             {"Sequence": {"id": "A", "type_id": 0}}]}
    return json.dumps(root, ensure_ascii=False).encode()


def with_config(config, tokenizer):
    """fuzz_tokenizer_json inputs: [u32 length][tokenizer_config.json][tokenizer.json]; length 0: no config."""
    return struct.pack("<I", len(config)) + config + tokenizer


LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")


def llama2c_tokenizer(pieces):
    """tok*.bin: int32 max_token_length, then per token f32 score, int32 length, bytes."""
    out = struct.pack("<i", max(len(p) for p, _, _ in pieces))
    for piece, score, _ in pieces:
        out += struct.pack("<fi", score, len(piece)) + piece
    return out


def write(corpus, name, data):
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)


def main():
    target, corpus, data, root = sys.argv[1:5]
    os.makedirs(corpus, exist_ok=True)
    fixtures = os.path.join(root, "tests", "data", "tokenizers")
    unigram_models = sorted(f for f in os.listdir(fixtures) if f.endswith(".model"))
    stories_model = os.path.join(data, "models", "stories260K", "hf", "tokenizer.model")
    stories_llama2c = os.path.join(data, "models", "stories260K", "llama2c", "tok512.bin")
    vocab_dir = os.path.join(data, "tokenizers", "llamacpp-vocab")

    if target == "fuzz_tokenizer_model":
        shutil.copyfile(stories_model, os.path.join(corpus, "stories260K.model"))
        for name in unigram_models:
            shutil.copyfile(os.path.join(fixtures, name), os.path.join(corpus, name))
    elif target == "fuzz_llama2c_tokenizer":
        shutil.copyfile(stories_llama2c, os.path.join(corpus, "tok512.bin"))
        for name in unigram_models[:2]:
            pieces, _ = read_sentencepiece(os.path.join(fixtures, name))
            write(corpus, name.replace(".model", ".bin"), llama2c_tokenizer(pieces))
    elif target == "fuzz_gguf_tokenizer":
        pieces, _ = read_sentencepiece(stories_model)
        write(corpus, "stories260K-llama.gguf", gguf_sentencepiece("llama", pieces))
        write(corpus, "stories260K-llama-flags.gguf",
              gguf_sentencepiece("llama", pieces, [("tokenizer.ggml.add_bos_token", BOOL, False),
                                                   ("tokenizer.ggml.add_space_prefix", BOOL, False),
                                                   ("tokenizer.ggml.bos_token_id", U32, 1)]))
        for name in unigram_models:
            pieces, charsmap = read_sentencepiece(os.path.join(fixtures, name))
            write(corpus, name.replace(".model", "-t5.gguf"),
                  gguf_sentencepiece("t5", pieces, [("tokenizer.ggml.remove_extra_whitespaces", BOOL, True),
                                                    ("tokenizer.ggml.unknown_token_id", U32, 0)], charsmap))
        bpe_pieces, merges = tiny_bpe()
        bpe = [(p.encode(), 0.0, 1) for p in bpe_pieces] + [(b"<|endoftext|>", 0.0, 3)]
        for pre in ("gpt2", "llama-bpe", "qwen2"):
            kvs = [gguf_kv("tokenizer.ggml.model", STRING, "gpt2"), gguf_kv("tokenizer.ggml.pre", STRING, pre),
                   gguf_kv("tokenizer.ggml.tokens", ARRAY, [p for p, _, _ in bpe], STRING),
                   gguf_kv("tokenizer.ggml.token_type", ARRAY, [t for _, _, t in bpe], I32),
                   gguf_kv("tokenizer.ggml.merges", ARRAY, [a + " " + b for a, b in merges], STRING),
                   gguf_kv("tokenizer.ggml.bos_token_id", U32, len(bpe) - 1),
                   gguf_kv("tokenizer.ggml.eos_token_id", U32, len(bpe) - 1)]
            write(corpus, "tiny-bpe-%s.gguf" % pre, gguf(kvs))
        # The head of a real vocabulary-only file: reaches the loader's checks of a truncated array.
        with open(os.path.join(vocab_dir, "ggml-vocab-gpt-2.gguf"), "rb") as f:
            write(corpus, "gpt2-vocab-head.gguf", f.read(32768))
    elif target == "fuzz_tokenizer_json":
        pieces, merges = tiny_bpe()
        byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        split = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
        config = b'{"add_bos_token": true, "bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}, ' \
                 b'"pad_token": null, "unk_token": "<|user|>"}'
        write(corpus, "tiny-gpt2", with_config(b"", tokenizer_json(pieces, merges, byte_level, False)))
        write(corpus, "tiny-llama3-pairs", with_config(b"", tokenizer_json(pieces, merges, split, True, False)))
        write(corpus, "tiny-gpt2-config", with_config(config, tokenizer_json(pieces, merges, byte_level, True)))
        write(corpus, "tiny-no-config", tokenizer_json(pieces, merges, byte_level, False))
    else:
        sys.exit("unknown target " + target)


if __name__ == "__main__":
    main()
