#include "core/store/text_file.h"

#include <fstream>
#include <sstream>

#include "core/store/sha256.h"
#include "core/util/error.h"

namespace qb {

TextFile read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in || std::filesystem::is_directory(path)) throw Error(path.string(), "cannot open the text file");
    std::stringstream content;
    content << in.rdbuf();
    TextFile file{path, content.str(), {}};
    Sha256 hash;
    hash.update({reinterpret_cast<const uint8_t*>(file.text.data()), file.text.size()});
    file.sha256 = hash.hex_digest();
    return file;
}

}  // namespace qb
