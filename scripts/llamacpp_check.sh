#!/bin/bash
# Manual check (not part of .ci/run): GGUF files exported by quantbench-cli load in llama.cpp itself (the prebuilt
# CPU library of node-llama-cpp, scripts/llamacpp/) and give there the perplexity `quantbench-cli eval` reports.
# Exports stories260K as F32/F16 (from its GGUF, llama2.c and Hugging Face forms), the presets Q8_0, Q6_K, Q4_K_M,
# Q2_K, GPTQ and AWQ presets, automatic allocations (7 bpw; 304,160 bytes), adds the shared F32/F16 files and
# llama.cpp's own quantizations, then for each file:
#   - Quantbench's ppl (`eval`) and llama.cpp's (llama-perplexity's protocol, scripts/llamacpp/perplexity.mjs);
#   - ggml's decoding of every tensor (its type traits' to_float, scripts/llamacpp/ggml_decode_check.py) against
#     Quantbench's (`export FILE --to gguf --format f32`): must be bit-identical;
#   - llama.cpp's ppl of that Quantbench-decoded F32 file: the same weights in both forward passes;
#   - the token ids of the text in both tokenizers: must be identical.
# Tolerances. llama.cpp runs with an F32 KV cache and without flash attention (llama-perplexity's defaults, F16 KV
# cache and flash attention, round K/V/Q to half precision: about 1e-4 relative on stories260K; LLAMACPP_DEFAULTS=1
# adds that column, informative). On F32 weights both sides then compute in float32 and only the summation order
# differs (observed ~1e-7): TOL = 1e-4 for F32 files and for every decoded-F32 file. On F16 or quantized weights
# llama.cpp's CPU backend also rounds each matrix product's activations, to F16 or to Q8_0/Q8_1/Q8_K (the weight
# type's vec_dot_type), which Quantbench's float32 forward does not: the direct difference is then up to a few 1e-4;
# ACT_TOL = 2e-3 bounds it, and the two exact checks above show that the weights themselves are the same.
# No network beyond the npm registry: llama.cpp is never downloaded or compiled.
#
# Environment: QB_BUILD_DIR (build), QB_DATA_DIR (../shared/data), OUT (a new temporary folder), CTX (512),
# TOL (1e-4), ACT_TOL (2e-3), THREADS (2), LLAMACPP_DEFAULTS (0), CALIB_TOKENS (8192).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${QB_BUILD_DIR:-build}
CLI=$BUILD/app/quantbench-cli
DATA=${QB_DATA_DIR:-$ROOT/../shared/data}
M=$DATA/models/stories260K
T=$DATA/text/tinystories-snippet-30k.txt
CTX=${CTX:-512}
TOL=${TOL:-1e-4}
ACT_TOL=${ACT_TOL:-2e-3}
THREADS=${THREADS:-2}
CALIB_TOKENS=${CALIB_TOKENS:-8192}
OUT=${OUT:-$(mktemp -d -t qb-llamacpp-XXXXXX)}
mkdir -p "$OUT"
NODE_DIR=$ROOT/scripts/llamacpp
[ -x "$CLI" ] || { echo "llamacpp_check: $CLI not found (build quantbench-cli or set QB_BUILD_DIR)" >&2; exit 2; }

# 1. node-llama-cpp with its prebuilt linux-x64 CPU binaries only. --ignore-scripts: its postinstall would try to
# download and build llama.cpp when no prebuilt binary fits. `npm install --no-save` instead of `npm ci`: the
# lock file lacks the mac/win/riscv optional packages (absent from the registry mirror here), which npm ci refuses.
if [ ! -d "$NODE_DIR/node_modules/node-llama-cpp" ]; then
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix "$NODE_DIR" --no-save --ignore-scripts --omit=optional \
    --no-audit --no-fund >&2
fi
BINS=$NODE_DIR/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
LLAMA_VERSION=$(LD_LIBRARY_PATH=$BINS python3 -c "
import ctypes
g = ctypes.CDLL('$BINS/libggml-base.so')
g.ggml_commit.restype = ctypes.c_char_p; g.ggml_version.restype = ctypes.c_char_p
print('llama.cpp commit %s (ggml %s)' % (g.ggml_commit().decode(), g.ggml_version().decode()))" 2>/dev/null || echo "llama.cpp (version unknown)")

# 2. The files: Quantbench's exports and quantizations, the shared F32/F16 files and llama.cpp's quantizations.
G=$M/gguf/stories260K-f32.gguf
run() { echo "+ $*" >&2; "$@" > "$OUT/log.txt" 2>&1 || { cat "$OUT/log.txt" >&2; return 1; }; }
mkdir -p "$OUT/gguf"
run "$CLI" export "$G" --to gguf --format f32 --out "$OUT/gguf/qb-f32.gguf"
run "$CLI" export "$G" --to gguf --format f16 --out "$OUT/gguf/qb-f16.gguf"
run "$CLI" export "$M/llama2c/stories260K.bin" --to gguf --format f32 --out "$OUT/gguf/qb-f32-from-llama2c.gguf"
run "$CLI" export "$M/hf" --to gguf --format f32 --out "$OUT/gguf/qb-f32-from-hf.gguf"
for p in q8_0 q6_k q4_k_m q2_k; do
  run "$CLI" quantize "$G" --preset $p --out "$OUT/gguf/qb-$p.gguf" --threads "$THREADS"
done
CAL=(--calib "$T" --calib-tokens "$CALIB_TOKENS" --threads "$THREADS")
run "$CLI" quantize "$G" --preset q4_k_m --algo gptq "${CAL[@]}" --out "$OUT/gguf/qb-q4_k_m-gptq.gguf"
run "$CLI" quantize "$G" --preset q2_k --algo gptq "${CAL[@]}" --out "$OUT/gguf/qb-q2_k-gptq.gguf"
run "$CLI" quantize "$G" --preset q4_k_m --algo awq "${CAL[@]}" --out "$OUT/gguf/qb-q4_k_m-awq.gguf"
# Automatic allocations. GGUF cannot reach 4.5 bpw on stories260K: no ggml block type fits ffn_down's rows of 172
# values, so those stay F16 (110 KB), and the smallest achievable plan is 6.73 bpw (base q4_0) -- `quantize` says
# so and stops. Hence 7 bpw, and the file size of llama.cpp's own Q4_K_M (304,160 bytes) as pipeline_acceptance.sh.
run "$CLI" quantize "$G" --target-bpw 7 --base-format q4_0 "${CAL[@]}" --out "$OUT/gguf/qb-auto-7bpw.gguf"
run "$CLI" quantize "$G" --max-file-bytes 304160 "${CAL[@]}" --out "$OUT/gguf/qb-auto-304160B.gguf"
FILES=("$G" "$M/gguf/stories260K-f16.gguf" "$OUT"/gguf/qb-*.gguf "$M"/gguf-llamacpp/*.gguf)

# 3. Per file: both perplexities, ggml's decoding against Quantbench's, llama.cpp on the decoded weights, tokens.
PPL=(node "$NODE_DIR/perplexity.mjs")
fail=0
echo "llama.cpp: $LLAMA_VERSION, node-llama-cpp $(node -p "require('$NODE_DIR/node_modules/node-llama-cpp/package.json').version") (prebuilt CPU)"
echo "text: $T, ctx $CTX (llama-perplexity -c $CTX -b $CTX protocol); llama.cpp with F32 KV cache, no flash attention"
echo
header="| file | bytes | tensor types | ppl Quantbench | ppl llama.cpp | rel. diff | ggml decode = Quantbench | ppl llama.cpp, decoded F32 | rel. diff | tokens identical |"
rule="|---|---:|---|---:|---:|---:|---|---:|---:|---|"
if [ "${LLAMACPP_DEFAULTS:-0}" = 1 ]; then
  header="$header ppl llama.cpp F16 KV, FA auto | rel. diff |"; rule="$rule---:|---:|"
fi
echo "$header"; echo "$rule"
mkdir -p "$OUT/decoded"
for f in "${FILES[@]}"; do
  name=$(basename "$f"); base=$OUT/$name; bytes=$(stat -c %s "$f")
  if ! "$CLI" eval "$f" --text "$T" --ctx "$CTX" --threads "$THREADS" --json > "$base.qb.json" 2>"$OUT/log.txt"; then
    echo "| $name | $bytes | | eval failed: $(tail -1 "$OUT/log.txt") | | | | | | | **FAIL**"; fail=1; continue
  fi
  "$CLI" tokenize "$f" --text "$T" > "$base.qb.tokens"
  if ! "${PPL[@]}" "$f" "$T" --ctx "$CTX" --threads "$THREADS" --kv f32 --flash-attn off \
      --tokens-out "$base.llama.tokens" > "$base.llama.json" 2>"$OUT/log.txt"; then
    echo "| $name | $bytes | | | llama.cpp failed: $(tail -1 "$OUT/log.txt") | | | | | | **FAIL**"; fail=1; continue
  fi
  dec=$OUT/decoded/$name
  if ! "$CLI" export "$f" --to gguf --format f32 --out "$dec" > "$OUT/log.txt" 2>&1; then
    echo "| $name | $bytes | | | | | export to F32 failed: $(tail -1 "$OUT/log.txt") | | | | **FAIL**"; fail=1; continue
  fi
  python3 "$NODE_DIR/ggml_decode_check.py" "$BINS/libggml-base.so" "$f" "$dec" > "$base.decode.json" || true
  if python3 -c "import json,sys; sys.exit(0 if set(json.load(open('$base.decode.json'))['types']) == {'f32'} else 1)"; then
    cp "$base.llama.json" "$base.llama-decoded.json"  # all F32 already: the decoded file holds the same values
  elif ! "${PPL[@]}" "$dec" "$T" --ctx "$CTX" --threads "$THREADS" --kv f32 --flash-attn off \
      > "$base.llama-decoded.json" 2>"$OUT/log.txt"; then
    echo "| $name | $bytes | | | llama.cpp failed on the decoded file: $(tail -1 "$OUT/log.txt") | | | | | | **FAIL**"; fail=1; continue
  fi
  if [ "${LLAMACPP_DEFAULTS:-0}" = 1 ] && ! "${PPL[@]}" "$f" "$T" --ctx "$CTX" --threads "$THREADS" \
      > "$base.llama-defaults.json" 2>"$OUT/log.txt"; then
    echo "| $name | $bytes | | | llama.cpp (defaults) failed: $(tail -1 "$OUT/log.txt") | | | | | | **FAIL**"; fail=1; continue
  fi
  row=$(python3 "$NODE_DIR/check_row.py" "$base" "$bytes" "$TOL" "$ACT_TOL" "${LLAMACPP_DEFAULTS:-0}")
  echo "$row"
  case "$row" in *FAIL*) fail=1 ;; esac
done
echo
echo "files and logs: $OUT"
if [ $fail = 0 ]; then
  echo "OK: every file loads in llama.cpp; ggml decodes every tensor exactly as Quantbench; identical token ids;"
  echo "ppl differences <= $TOL (F32 weights, and every decoded-F32 file), <= $ACT_TOL with F16/quantized matrices."
else
  echo "FAILED (see the rows marked FAIL)"; exit 1
fi
