#!/usr/bin/env bash
# Builds the libFuzzer targets (GGUF, safetensors, llama2.c readers and model loading; the tokenizer loaders
# for tokenizer.model, tokenizer.json, llama2.c tok*.bin and GGUF metadata, each also encoding and decoding
# text) with clang, ASan and UBSan in build-fuzz, runs each for a bounded time on seed corpora made from the
# shared test data and tests/data, and prints executions and findings per target. Exits non-zero when a
# target found a crash.
# Usage: scripts/fuzz.sh [seconds per target, default 60] [targets...]
# Environment: QB_DATA_DIR (default ../shared/data), QB_FUZZ_BUILD_DIR (default build-fuzz), JOBS (default 2),
#              QB_FUZZ_FLAGS (extra libFuzzer flags, e.g. -max_len=32768 to explore headers faster).
# Needs clang, libclang-rt-14-dev (libFuzzer) and python3 (tests/fuzz/make_tokenizer_seeds.py).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(fuzz_gguf fuzz_safetensors fuzz_llama2c fuzz_tokenizer_model fuzz_tokenizer_json fuzz_llama2c_tokenizer
           fuzz_gguf_tokenizer)
data=${QB_DATA_DIR:-$root/../shared/data}
build=${QB_FUZZ_BUILD_DIR:-$root/build-fuzz}
stories=$data/models/stories260K

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQB_FUZZ=ON -DQB_BENCH=OFF -DQB_NATIVE=OFF -DQB_DATA_DIR="$data" > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target "${targets[@]}" -j"${JOBS:-2}"

le32() { printf '%b' "$(printf '\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"; }
le64() { le32 "$1"; le32 0; }

# A tiny but complete llama2.c v0 checkpoint: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 4, seq 4.
tiny_llama2c() {
  for v in 8 16 1 2 1 4 4; do le32 "$v"; done
  head -c $(((4 * 8 + 8 + 64 + 32 + 32 + 64 + 8 + 128 + 128 + 128 + 8 + 2 * 4 * 2) * 4)) /dev/zero
}

gguf_string() { le64 ${#1}; printf '%s' "$1"; }
kv_u32() { gguf_string "$1"; le32 4; le32 "$2"; }
kv_f32_bits() { gguf_string "$1"; le32 6; le32 "$2"; }

# A tiny llama GGUF (dim 32, 1 layer, 2 heads, 1 kv head, ff 32, vocab 4) whose tensors use the legacy
# block types, f16, bf16 and f32, all data zero: fast to run, reaches every loader stage and decoder.
tiny_gguf() {
  local out=$1 tensors offset=0 size
  # name, ggml type, bytes, dims (innermost first)
  tensors=("token_embd.weight 8 136 32 4" "blk.0.attn_norm.weight 0 128 32" "blk.0.attn_q.weight 2 576 32 32"
           "blk.0.attn_k.weight 7 384 32 16" "blk.0.attn_v.weight 20 288 32 16" "blk.0.attn_output.weight 3 640 32 32"
           "blk.0.ffn_norm.weight 0 128 32" "blk.0.ffn_gate.weight 1 2048 32 32" "blk.0.ffn_up.weight 30 2048 32 32"
           "blk.0.ffn_down.weight 6 704 32 32" "output_norm.weight 0 128 32")
  {
    printf 'GGUF'; le32 3; le64 ${#tensors[@]}; le64 10
    gguf_string general.architecture; le32 8; gguf_string llama
    kv_u32 llama.embedding_length 32; kv_u32 llama.block_count 1; kv_u32 llama.feed_forward_length 32
    kv_u32 llama.attention.head_count 2; kv_u32 llama.attention.head_count_kv 1; kv_u32 llama.context_length 4
    kv_u32 llama.rope.dimension_count 16
    kv_f32_bits llama.attention.layer_norm_rms_epsilon $((0x3727c5ac)); kv_f32_bits llama.rope.freq_base $((0x461c4000))
    for t in "${tensors[@]}"; do
      set -- $t
      gguf_string "$1"; le32 $(($# - 3)); for d in "${@:4}"; do le64 "$d"; done; le32 "$2"; le64 $offset
      offset=$(((offset + $3 + 31) / 32 * 32))
    done
  } > "$out"
  size=$(stat -c %s "$out")
  head -c $(((size + 31) / 32 * 32 - size + offset)) /dev/zero >> "$out"
}

# A tiny safetensors file (one F32 tensor and metadata).
tiny_safetensors() {
  local header='{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}'
  le64 ${#header}
  printf '%s' "$header"
  head -c 16 /dev/zero
}

# fuzz_safetensors inputs are [u32 config length][config.json][safetensors].
with_config() {
  le32 "$(stat -c %s "$1")"
  cat "$1" "$2"
}

make_seeds() {
  local corpus=$1 target=$2
  mkdir -p "$corpus"
  case $target in
    fuzz_gguf)
      cp "$stories"/gguf-llamacpp/*.gguf "$stories/gguf/stories260K-f16.gguf" "$corpus/"
      tiny_gguf "$corpus/tiny.gguf"
      head -c 16384 "$stories/gguf/stories260K-f32.gguf" > "$corpus/f32-header.gguf"
      head -c 65536 "$data/tokenizers/llamacpp-vocab/ggml-vocab-gpt-2.gguf" > "$corpus/gpt2-vocab-head.gguf" ;;
    fuzz_safetensors)
      with_config "$stories/hf/config.json" "$stories/hf/model.safetensors" > "$corpus/stories260K"
      with_config "$stories/hf/config.json" <(tiny_safetensors) > "$corpus/tiny"
      tiny_safetensors > "$corpus/tiny-no-config" ;;
    fuzz_llama2c)
      cp "$stories/llama2c/stories260K.bin" "$corpus/"
      tiny_llama2c > "$corpus/tiny.bin" ;;
    fuzz_tokenizer_model | fuzz_tokenizer_json | fuzz_llama2c_tokenizer | fuzz_gguf_tokenizer)
      python3 tests/fuzz/make_tokenizer_seeds.py "$target" "$corpus" "$data" "$root" ;;
  esac
}

export TMPDIR=${TMPDIR:-/dev/shm}
[ -w "$TMPDIR" ] || export TMPDIR=/tmp
failed=0
summary=()
for target in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  make_seeds "$corpus" "$target"  # seeds are refreshed; what the fuzzer learned stays beside them
  mkdir -p "$artifacts"
  log=$build/$target.log
  echo "fuzz: running $target for ${seconds}s (corpus $corpus)"
  set +e
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$artifacts/" ${QB_FUZZ_FLAGS:-} "$corpus" > "$log" 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  findings=$(find "$artifacts" -type f | wc -l)
  summary+=("$(printf '%-22s executions %10s   findings %3s   corpus %5s files' "$target" "${execs:-0}" "$findings" "$(ls "$corpus" | wc -l)")")
  if [ "$status" -ne 0 ] || [ "$findings" -gt 0 ]; then
    failed=1
    echo "fuzz: $target found a problem (exit $status); see $log and $artifacts"
    grep -m 5 -E 'ERROR|runtime error|terminate called|uncaught' "$log" || true
  fi
done
printf '%s\n' "${summary[@]}"
exit $failed
