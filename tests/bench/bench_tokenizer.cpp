// Tokenizer throughput on WikiText-2 test (1.3 MB, the perplexity text): MB/s and tokens/s for the
// stories260K (SentencePiece, 512 pieces), Llama 2 (SentencePiece, 32k) and GPT-2 (byte-level BPE, 50k)
// vocabularies, plus decode speed. SentencePiece unigram: the same two SentencePiece vocabularies encoded
// by the unigram Viterbi search instead of BPE merges (same pieces and scores, so the rows compare the
// algorithms), and the 500-piece unigram test model (tests/data/tokenizers) when found.
// Usage: bench_tokenizer [data dir [unigram fixture dir]], default $QB_DATA_DIR or ../shared/data.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/infer/tokenizer_loaders.h"
#include "core/util/error.h"
#include "tests/bench/support.h"

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void bench(const std::string& name, const qb::Tokenizer& tokenizer, const std::string& text) {
    std::vector<int32_t> ids;
    const double encode_s = qbbench::time_per_call([&] { ids = tokenizer.encode(text, true); }, 1.0);
    std::string decoded;
    const double decode_s = qbbench::time_per_call([&] { decoded = tokenizer.decode(ids); }, 0.5);
    const double mb = double(text.size()) / 1e6;
    std::printf("%-22s %8zu tokens  encode %7.1f ms  %6.2f MB/s  %6.2f Mtok/s   decode %6.1f ms  %s\n", name.c_str(),
                ids.size(), encode_s * 1e3, mb / encode_s, double(ids.size()) / encode_s / 1e6, decode_s * 1e3,
                decoded.size() + 1 >= text.size() ? "" : "(decode lost text)");
}

// The vocabulary of a SentencePiece BPE tokenizer, encoded as a unigram model; prints the build time.
qb::Tokenizer as_unigram(const qb::Tokenizer& bpe) {
    qb::Vocabulary vocab = bpe.vocabulary();
    vocab.algorithm = qb::TokenizerAlgorithm::Unigram;
    const double start = qbbench::seconds_now();
    qb::Tokenizer unigram(std::move(vocab));
    std::printf("  (unigram tables for %d pieces built in %.1f ms)\n", unigram.vocab_size(), (qbbench::seconds_now() - start) * 1e3);
    return unigram;
}

std::filesystem::path fixture_dir(int argc, char** argv) {
    if (argc > 2) return argv[2];
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "data/tokenizers";  // the source tree
}

std::filesystem::path data_dir(int argc, char** argv) {
    if (argc > 1) return argv[1];
    return qbbench::default_data_dir();
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path data = data_dir(argc, argv);
    const std::string wiki = read_text(data / "text/wiki.test.raw");
    if (wiki.empty()) {
        std::fprintf(stderr, "cannot read %s (pass the shared data folder as the argument)\n",
                     (data / "text/wiki.test.raw").c_str());
        return 1;
    }
    qbbench::print_header("tokenizer: wiki.test.raw, " + std::to_string(wiki.size()) + " bytes");
    try {
        bench("stories260K (gguf)", qb::load_tokenizer_from_gguf(data / "models/stories260K/gguf/stories260K-f32.gguf"), wiki);
        const auto stories = qb::load_tokenizer_from_gguf(data / "models/stories260K/gguf/stories260K-f32.gguf");
        const auto llama2 = qb::load_tokenizer_from_sentencepiece_model(data / "tokenizers/llama2-32k/tokenizer.model");
        bench("llama2-32k (model)", llama2, wiki);
        bench("stories260K unigram", as_unigram(stories), wiki);
        bench("llama2-32k unigram", as_unigram(llama2), wiki);
        const auto fixture = fixture_dir(argc, argv) / "unigram-bytes.model";
        if (std::filesystem::exists(fixture)) bench("unigram-bytes (500)", qb::load_tokenizer_from_sentencepiece_model(fixture), wiki);
        else std::printf("  (no %s: pass the unigram fixture folder as the second argument)\n", fixture.c_str());
        bench("gpt-2 (gguf)", qb::load_tokenizer_from_gguf(data / "tokenizers/llamacpp-vocab/ggml-vocab-gpt-2.gguf"), wiki);
        bench("gpt-neox (gguf)", qb::load_tokenizer_from_gguf(data / "tokenizers/llamacpp-vocab/ggml-vocab-gpt-neox.gguf"), wiki);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    std::printf("peak RSS %.1f MB\n", double(qbbench::peak_rss_bytes()) / 1e6);
    return 0;
}
