#include "tests/support/test_data.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace qbtest {
namespace {

struct Scratch {
    std::filesystem::path dir;
    Scratch() {
        dir = std::filesystem::temp_directory_path() / ("quantbench-test-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~Scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

}  // namespace

std::filesystem::path data_path(const std::string& relative) {
    const char* env = std::getenv("QB_DATA_DIR");
    std::filesystem::path root = env && *env ? env : QB_DATA_DIR;
    return std::filesystem::absolute(root / relative);
}

std::filesystem::path stories260k(const std::string& form) {
    if (form == "gguf") return data_path("models/stories260K/gguf/stories260K-f32.gguf");
    if (form == "hf") return data_path("models/stories260K/hf");
    return data_path("models/stories260K/llama2c/stories260K.bin");
}

std::string read_file(const std::filesystem::path& path, size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str().substr(0, max_bytes);
}

std::string read_text(const std::string& relative, size_t max_bytes) { return read_file(data_path(relative), max_bytes); }

const std::string& tinystories_snippet() {
    static const std::string text = read_text("text/tinystories-snippet-30k.txt");
    return text;
}

const qb::Model& stories260k_model() {
    static const qb::Model model = qb::load_model(stories260k("gguf"));
    return model;
}

const qb::Tokenizer& stories260k_tokenizer() {
    static const qb::Tokenizer tokenizer = qb::model_tokenizer(stories260k_model());
    return tokenizer;
}

LoadedModel::LoadedModel(const std::filesystem::path& path, std::string_view text_body)
    : model(qb::load_model(path)), text(qb::evaluation_text(qb::model_tokenizer(model), text_body)) {}

std::filesystem::path scratch_dir() {
    static Scratch scratch;
    return scratch.dir;
}

std::filesystem::path scratch_copy(const std::filesystem::path& source, const std::string& new_name) {
    auto target = scratch_dir() / new_name;
    std::filesystem::copy_file(source, target, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(target, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
    return target;
}

}  // namespace qbtest
