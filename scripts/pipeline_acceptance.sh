#!/bin/bash
# Acceptance table of issue 5 on stories260K (tinystories snippet, llama.cpp protocol, ctx 512). Calibration uses
# the first 8192 tokens of the same snippet (in-sample: the only TinyStories text in shared/data).
set -e
CLI=${CLI:-build/app/quantbench-cli}
M=${M:-../shared/data/models/stories260K/gguf/stories260K-f32.gguf}
T=${T:-../shared/data/text/tinystories-snippet-30k.txt}
OUT=${OUT:-$PWD/out}
mkdir -p $OUT/plans
for f in int2_g32_asym int2_pc_asym int3_g32_asym int3_pc_asym int4_g32_asym int4_g32_sym int4_pc_asym int8_pc_sym int8_g128_sym; do
  $CLI plan $M --default $f --target safetensors-fake --fallback --out $OUT/plans/$f.json > /dev/null
done
P=$(ls $OUT/plans/*.json)
for algo in rtn gptq hqq awq; do
  $CLI compare $M --plans $P --text $T --calib $T --calib-tokens 8192 --algo $algo --to safetensors --kld --out-dir $OUT/$algo > $OUT/$algo.md || echo "compare $algo failed"
done
$CLI compare $M --presets q8_0,q6_k,q5_k_m,q4_k_m,q3_k_m,q2_k --text $T --kld --out-dir $OUT/presets > $OUT/presets.md
$CLI compare $M --presets q4_k_m,q2_k --algo gptq --calib $T --calib-tokens 8192 --text $T --kld --out-dir $OUT/presets-gptq > $OUT/presets-gptq.md
# AWQ's scales folded into the norms / v / up (core/pipeline/awq_folding.h): the GGUF files are standard models.
$CLI compare $M --presets q4_k_m,q2_k --algo awq --calib $T --calib-tokens 8192 --text $T --kld --out-dir $OUT/presets-awq > $OUT/presets-awq.md
# AWQ followed by a clipping search on the scaled weights (option clip; AutoAWQ clips after scaling too), beside
# round-to-nearest with the same clipping search (the _clip formats), so both sides clip.
mkdir -p $OUT/plans-clip
for f in int3_g32_asym int3_pc_asym int4_g32_asym int4_g32_sym int4_pc_asym; do
  python3 -c "import json;p=json.load(open('$OUT/plans/$f.json'));p['name']='$f+awq-clip';p['default']['algorithm']='awq';p['default']['options']={'clip':True};json.dump(p,open('$OUT/plans-clip/$f+awq-clip.json','w'),indent=2)"
  $CLI plan $M --default ${f}_clip --target safetensors-fake --fallback --out $OUT/plans-clip/${f}_clip+rtn.json > /dev/null
done
$CLI compare $M --plans $(ls $OUT/plans-clip/*.json) --text $T --calib $T --calib-tokens 8192 --to safetensors --kld --out-dir $OUT/awq-clip > $OUT/awq-clip.md || echo "compare awq-clip failed"
# Automatic allocation: at the byte budget of uniform int4_g32_sym (4.5 bpw on the matrices it fits), and at the
# sizes of llama.cpp's own Q4_K_M (304,160 bytes) and Q2_K (277,088 bytes) files.
B=$(python3 -c "import json;r=json.load(open('$OUT/rtn/int4_g32_sym+rtn.run.json'));print(8*r['tensor_bytes']/r['parameters'])")
for algo in rtn gptq awq; do
  $CLI quantize $M --target-bpw $B --to safetensors --base-format int4_g32_sym --loss kld --algo $algo --calib $T \
    --calib-tokens 8192 --out $OUT/auto-int4g32-$algo --eval $T --kld --save-run $OUT/auto-int4g32-$algo.run.json
done
for algo in rtn imatrix gptq awq; do
  $CLI quantize $M --max-file-bytes 304160 --loss kld --algo $algo --calib $T --calib-tokens 8192 \
    --out $OUT/auto-304160-$algo.gguf --eval $T --kld --save-run $OUT/auto-304160-$algo.run.json
  $CLI quantize $M --max-file-bytes 277088 --base-format q4_0 --loss kld --algo $algo --calib $T --calib-tokens 8192 \
    --out $OUT/auto-277088-$algo.gguf --eval $T --kld --save-run $OUT/auto-277088-$algo.run.json
done
$CLI report $OUT/*.run.json $OUT/*/*.run.json --format md --no-layers --out $OUT/acceptance.md
