// qb_tokens MODEL TEXT: the token ids Quantbench evaluates TEXT with (the model's tokenizer, line endings
// normalised, leading BOS where the vocabulary adds one; what `quantbench-cli eval` scores), one per line.
// Built by scripts/llamacpp_check.sh against the build's libqbcore.a, to compare with llama.cpp's tokenization.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/util/error.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: qb_tokens MODEL TEXT\n");
        return 2;
    }
    try {
        std::ifstream in(argv[2], std::ios::binary);
        if (!in) throw qb::Error(argv[2], "cannot open the text file");
        std::stringstream text;
        text << in.rdbuf();
        const qb::Model model = qb::load_model(argv[1]);
        const qb::EvalText tokens = qb::evaluation_text(qb::model_tokenizer(model), text.str());
        for (const int32_t id : tokens.tokens) std::printf("%d\n", id);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qb_tokens: %s\n", e.what());
        return 1;
    }
    return 0;
}
