#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/model/model.h"
#include "core/store/text_file.h"
#include "core/util/error.h"

namespace qbcli {

// The token ids `eval` scores for a text (the model's tokenizer, line endings normalised, a leading BOS
// where the vocabulary adds one): to compare a tokenization with another tool's, e.g. llama.cpp's.
int run_tokenize(const CommandArgs& argv) {
    Args args(argv, {{"text"}, {"json"}});
    if (args.positionals().size() != 1 || !args.has("text"))
        throw qb::Error("usage", "tokenize MODEL --text FILE [--json]");
    const qb::Model model = qb::load_model(args.positionals()[0]);
    const qb::EvalText text = qb::evaluation_text(qb::model_tokenizer(model), qb::read_text_file(args.value("text")).text);
    if (args.flag("json")) {
        const nlohmann::json out = {{"bos_id", text.bos_id}, {"count", text.tokens.size()}, {"tokens", text.tokens}};
        std::printf("%s\n", out.dump().c_str());
        return 0;
    }
    for (const int32_t id : text.tokens) std::printf("%d\n", id);
    return 0;
}

}  // namespace qbcli
