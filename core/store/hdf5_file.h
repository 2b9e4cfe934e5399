// A small generic layer over the HDF5 C library (1.10 API) for analysis files: datasets and attributes
// addressed by absolute paths ("/activations/blk.0.attn_qkv/mean_sq"), groups created on demand. What
// it writes is what h5py reads most naturally:
//   - numbers as native little-endian f32 / f64 / i64 / u64; strings as variable-length UTF-8 (h5py: str);
//   - attributes: scalars, 1-D arrays or lists of strings;
//   - datasets of at least kCompressMinValues values chunked (about 64 Ki values per chunk) with the
//     shuffle filter and gzip level 4, smaller ones contiguous.
// Hdf5Writer writes atomically: the file is created as "<target>.tmp-XXXXXX" beside the target and
// renamed over it only by commit(); destroying an uncommitted writer removes the temporary file, so a
// failed or cancelled job leaves neither a partial file nor a damaged previous one.
// Errors: qb::Error naming the file, the object and HDF5's innermost message.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace qb {

using AttributeValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>,
                                    std::vector<std::string>>;

inline constexpr int64_t kCompressMinValues = 4096;

class Hdf5Writer {
public:
    explicit Hdf5Writer(const std::filesystem::path& target);
    ~Hdf5Writer();
    Hdf5Writer(const Hdf5Writer&) = delete;
    Hdf5Writer& operator=(const Hdf5Writer&) = delete;

    const std::filesystem::path& target() const;
    void create_group(const std::string& path);  // and its parents; nothing if it exists
    // On a group or dataset; replaces an attribute of the same name.
    void set_attribute(const std::string& object, const std::string& name, const AttributeValue& value);
    // T: float, double, int64_t, uint64_t. dims: the shape (row-major); empty: one dimension of values.size().
    template <typename T>
    void write_dataset(const std::string& path, std::span<const T> values, std::vector<int64_t> dims = {});
    void write_strings(const std::string& path, const std::vector<std::string>& values);
    void commit();  // close, fsync, rename over the target

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Hdf5Reader {
public:
    explicit Hdf5Reader(const std::filesystem::path& path);  // throws Error(path, ...) unless an HDF5 file
    ~Hdf5Reader();
    Hdf5Reader(const Hdf5Reader&) = delete;
    Hdf5Reader& operator=(const Hdf5Reader&) = delete;

    const std::filesystem::path& path() const;
    bool exists(const std::string& path) const;                      // a group or dataset
    std::vector<std::string> children(const std::string& group) const;  // names, in name order
    std::vector<std::string> attribute_names(const std::string& object) const;
    bool has_attribute(const std::string& object, const std::string& name) const;
    // Integers come back as int64_t, floats as double, strings as std::string (vectors when 1-D).
    AttributeValue attribute(const std::string& object, const std::string& name) const;
    std::vector<int64_t> shape(const std::string& dataset) const;
    template <typename T>  // converted by HDF5 to T: float, double, int64_t, uint64_t
    std::vector<T> read_dataset(const std::string& dataset) const;
    std::vector<std::string> read_strings(const std::string& dataset) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Typed access to attributes, throwing Error(file, "<object>: attribute '<name>' is missing" / "is not a ...").
double number_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);
int64_t integer_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);
std::string string_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);
std::vector<std::string> strings_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);
std::vector<double> numbers_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);
std::vector<int64_t> integers_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name);

}  // namespace qb
