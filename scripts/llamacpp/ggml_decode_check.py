#!/usr/bin/env python3
"""ggml_decode_check.py LIBGGML_BASE FILE.gguf DECODED_F32.gguf

Reads FILE.gguf with ggml's own GGUF loader (libggml-base.so of the prebuilt llama.cpp in node-llama-cpp), decodes
every tensor with ggml's type traits (to_float, what llama.cpp's CPU backend dequantizes with) and compares it, bit for
bit, with the same tensor of DECODED_F32.gguf (Quantbench's decoding of FILE.gguf, written as F32 by
`quantbench-cli export FILE.gguf --to gguf --format f32`). Prints one JSON object: tensors compared, tensors identical,
the largest |difference| and the types seen. Exit code 1 when a tensor differs or is missing.
"""
import ctypes
import json
import struct
import sys

GGML_TYPE_F32 = 0


class GgufInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(ctypes.c_void_p))]


class GgmlTypeTraits(ctypes.Structure):  # ggml.h, struct ggml_type_traits
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64), ("blck_size_interleave", ctypes.c_int64),
                ("type_size", ctypes.c_size_t), ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64)


def load(lib, path):
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, GgufInitParams]
    ctx = ctypes.c_void_p()
    g = lib.gguf_init_from_file(path.encode(), GgufInitParams(False, ctypes.pointer(ctx)))
    if not g:
        raise SystemExit(f"ggml_decode_check: ggml cannot read {path}")
    tensors = {}
    for i in range(lib.gguf_get_n_tensors(ctypes.c_void_p(g))):
        name = lib.gguf_get_tensor_name(ctypes.c_void_p(g), ctypes.c_int64(i))
        ttype = lib.gguf_get_tensor_type(ctypes.c_void_p(g), ctypes.c_int64(i))
        t = lib.ggml_get_tensor(ctx, name)
        n = lib.ggml_nelements(ctypes.c_void_p(t))
        data = lib.ggml_get_data(ctypes.c_void_p(t))
        out = (ctypes.c_float * n)()
        traits = lib.ggml_get_type_traits(ttype).contents
        if ttype == GGML_TYPE_F32:
            ctypes.memmove(out, data, 4 * n)
        elif traits.to_float:
            TO_FLOAT(traits.to_float)(data, out, n)
        else:
            raise SystemExit(f"ggml_decode_check: {path}: no to_float for type {traits.type_name.decode()}")
        tensors[name.decode()] = (traits.type_name.decode(), bytes(out))
    return tensors


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    lib = ctypes.CDLL(sys.argv[1])
    lib.gguf_get_n_tensors.restype = ctypes.c_int64
    lib.gguf_get_tensor_name.restype = ctypes.c_char_p
    lib.gguf_get_tensor_type.restype = ctypes.c_int
    lib.ggml_get_tensor.restype = ctypes.c_void_p
    lib.ggml_get_tensor.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.ggml_nelements.restype = ctypes.c_int64
    lib.ggml_get_data.restype = ctypes.c_void_p
    lib.ggml_get_type_traits.restype = ctypes.POINTER(GgmlTypeTraits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    original, decoded = load(lib, sys.argv[2]), load(lib, sys.argv[3])
    identical, max_diff, problems, types = 0, 0.0, [], {}
    for name, (ttype, data) in original.items():
        types[ttype] = types.get(ttype, 0) + 1
        if name not in decoded:
            problems.append(f"{name}: missing from {sys.argv[3]}")
            continue
        other = decoded[name][1]
        if data == other:
            identical += 1
            continue
        if len(data) != len(other):
            problems.append(f"{name}: {len(data) // 4} values vs {len(other) // 4}")
            continue
        a = struct.unpack(f"{len(data) // 4}f", data)
        b = struct.unpack(f"{len(other) // 4}f", other)
        d = max(abs(x - y) for x, y in zip(a, b))
        max_diff = max(max_diff, d)
        problems.append(f"{name} ({ttype}): max |diff| {d:.3g}")
    print(json.dumps({"file": sys.argv[2], "tensors": len(original), "identical": identical, "max_abs_diff": max_diff,
                      "types": types, "problems": problems}))
    sys.exit(0 if identical == len(original) == len(decoded) else 1)


if __name__ == "__main__":
    main()
