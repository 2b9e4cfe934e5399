#!/usr/bin/env python3
"""check_row.py BASE BYTES TOL ACT_TOL DEFAULTS: one Markdown row of scripts/llamacpp_check.sh's table.

Reads BASE.qb.json (quantbench-cli eval --json), BASE.llama.json and BASE.llama-decoded.json (perplexity.mjs on the
file and on Quantbench's F32 decoding of it), BASE.decode.json (ggml_decode_check.py), BASE.qb.tokens and
BASE.llama.tokens (token ids, one per line) and, when DEFAULTS is 1, BASE.llama-defaults.json. Appends **FAIL** when
the token ids or a decoded tensor differ, the chunk counts differ, the decoded file's ppl is off by more than TOL
(relative), or the file's ppl by more than TOL (all-F32 file) or ACT_TOL (F16 or quantized matrices).
"""
import json
import sys

base, nbytes, tol, act_tol, defaults = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"


def load(suffix):
    with open(base + suffix) as f:
        return json.load(f)


def tokens(suffix):
    with open(base + suffix) as f:
        return f.read().split()


qb, ll, lld, dec = load(".qb.json"), load(".llama.json"), load(".llama-decoded.json"), load(".decode.json")
qt, lt = tokens(".qb.tokens"), tokens(".llama.tokens")
rel = abs(ll["ppl"] - qb["ppl"]) / qb["ppl"]
rel_dec = abs(lld["ppl"] - qb["ppl"]) / qb["ppl"]
all_f32 = set(dec["types"]) == {"f32"}
decode_ok = dec["identical"] == dec["tensors"] and not dec["problems"]
same = qt == lt
ok = (same and decode_ok and rel_dec <= tol and rel <= (tol if all_f32 else act_tol)
      and qb["chunks"] == ll["chunks"] and qb["scored_tokens"] == ll["tokens_scored"])
if same:
    token_cell = "%d, yes" % len(qt)
else:
    first = next((i for i, (a, b) in enumerate(zip(qt, lt)) if a != b), min(len(qt), len(lt)))
    token_cell = "NO: %d vs %d, first difference at #%d" % (len(qt), len(lt), first)
types = ", ".join("%s %d" % (t, n) for t, n in sorted(dec["types"].items(), key=lambda kv: (-kv[1], kv[0])))
decode = "%d/%d" % (dec["identical"], dec["tensors"]) + ("" if decode_ok else " (max |diff| %.3g)" % dec["max_abs_diff"])
cells = [base.rsplit("/", 1)[1], "{:,}".format(nbytes), types, "%.6f" % qb["ppl"], "%.6f" % ll["ppl"], "%.1e" % rel,
         decode, "%.6f" % lld["ppl"], "%.1e" % rel_dec, token_cell]
if defaults:
    d = load(".llama-defaults.json")
    cells += ["%.6f" % d["ppl"], "%.1e" % (abs(d["ppl"] - qb["ppl"]) / qb["ppl"])]
print("| " + " | ".join(cells) + " |" + ("" if ok else " **FAIL**"))
