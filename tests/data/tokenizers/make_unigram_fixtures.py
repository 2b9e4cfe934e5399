#!/usr/bin/python3
# Makes the SentencePiece UNIGRAM fixtures of tests/tst_tokenizers.cpp with the reference implementation
# (Debian's python3-sentencepiece 0.1.97: `apt-get install -y python3-sentencepiece`). Run once, offline,
# from the repository root:  /usr/bin/python3 tests/data/tokenizers/make_unigram_fixtures.py ../shared/data
# It trains four tiny unigram models on the TinyStories snippet and writes, beside this script,
#   unigram-*.model        the models (serialized sentencepiece.ModelProto)
#   unigram-expected.json  per model: the ids SentencePiece gives for each test string (and for the first
#                          bytes of two shared text files), and its decode of those ids.
# The tests only read these files: no Python at test time.
import json
import os
import sys

import sentencepiece as spm

here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../../../shared/data")
train_text = os.path.join(data, "text/tinystories-snippet-30k.txt")

# A tiny custom normalization rule set (a precompiled charsmap of a few entries instead of NFKC's 240 KB):
# fullwidth letters to ASCII, the "fi" ligature to "fi", no-break space to space, "½" to "1/2".
rules_tsv = os.path.join(here, "unigram-rules.tsv")
with open(rules_tsv, "w") as f:
    for source, target in [("FF21", "41"), ("FF22", "42"), ("FF41", "61"), ("FF42", "62"), ("FB01", "66 69"),
                           ("A0", "20"), ("BD", "31 2F 32"), ("41 41 41", "61")]:
        f.write(source + "\t" + target + "\n")

common = dict(input=train_text, model_type="unigram", character_coverage=1.0, num_threads=1,
              minloglevel=2, bos_id=1, eos_id=2, unk_id=0, pad_id=-1)
models = {
    # defaults of add_dummy_prefix / remove_extra_whitespaces (both true), no byte fallback
    "unigram-plain": dict(vocab_size=400, normalization_rule_name="identity"),
    # byte fallback, spaces kept as written
    "unigram-bytes": dict(vocab_size=500, normalization_rule_name="identity", byte_fallback=True,
                          remove_extra_whitespaces=False),
    # user-defined symbols, no dummy prefix
    "unigram-user": dict(vocab_size=400, normalization_rule_name="identity", add_dummy_prefix=False,
                         user_defined_symbols=["<sep>", "[MASK]", "Lily", "<sep><sep>"]),
    # a precompiled charsmap from the rules above
    "unigram-rules": dict(vocab_size=350, normalization_rule_tsv=rules_tsv),
}

sentences = [
    "Once upon a time, there was a little girl named Lily.",
    "Hello world",
    "",
    " ",
    "   ",
    "a",
    "  leading and trailing spaces  ",
    "multiple    spaces   between  words",
    "tab\tand\nnewline\n\nend",
    "café naïve résumé Ærø",
    "日本語のテキスト",
    "Tom saw a 🦙 and 🙂 3€.",
    "Quixotic zephyr jumps: 42 × 7 = 294 ≠ 295 (Ω, ß, ñ)",
    "ÿ\u0301 combining and \u200b zero width",
    "Lily<sep>Tom [MASK] ran<sep><sep>home <sep> Lilyy",
    "[MASK][MASK]<sep>",
    "ＡＢ ａｂ ﬁsh\u00a0½ AAA",
    "\"Yes!\" said Tom. 'No?' asked Sue... (really) [ok] {x}; a-b_c/d\\e",
    "The end.\n",
]

expected = {"generator": "sentencepiece " + spm.__version__ + " (make_unigram_fixtures.py)", "models": {}}
for name, options in models.items():
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(here, name), **common, **options)
    os.remove(os.path.join(here, name + ".vocab"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(here, name + ".model"))
    cases = []
    for text in sentences:
        ids = sp.encode(text)
        cases.append({"text": text, "ids": ids, "decoded": sp.decode(ids)})
    files = []
    for relative, size in [("text/tinystories-snippet-30k.txt", 6000), ("text/wiki.test.raw", 6000)]:
        with open(os.path.join(data, relative), "rb") as f:
            head = f.read(size).decode("utf-8", errors="strict")
        ids = sp.encode(head)
        files.append({"file": relative, "bytes": size, "ids": ids, "decoded": sp.decode(ids)})
    expected["models"][name + ".model"] = {"vocab_size": sp.get_piece_size(), "cases": cases, "files": files}

with open(os.path.join(here, "unigram-expected.json"), "w") as f:
    json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
