#include "core/store/hdf5_file.h"

#include <fcntl.h>
#include <hdf5.h>
#include <random>
#include <unistd.h>
#include <utility>

#include "core/util/error.h"

namespace qb {
namespace {

// Owns an HDF5 identifier and closes it with the matching H5?close.
class Handle {
public:
    Handle() = default;
    Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, -1)), close_(other.close_) {}
    Handle& operator=(Handle&& other) noexcept {
        std::swap(id_, other.id_);
        std::swap(close_, other.close_);
        return *this;
    }
    ~Handle() {
        if (id_ >= 0) close_(id_);
    }
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    void close() {
        if (id_ >= 0 && close_(std::exchange(id_, -1)) < 0) throw Error("hdf5", "close failed");
    }

private:
    hid_t id_ = -1;
    herr_t (*close_)(hid_t) = nullptr;
};

// Error stacks are per thread: every entry point turns HDF5's printing to stderr off for its thread.
void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The description of the innermost error on this thread's HDF5 stack ("unable to open file" ...).
std::string hdf5_message() {
    std::string message;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD,
             [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
                 if (n == 0 && e->desc) *static_cast<std::string*>(data) = e->desc;
                 return 0;
             },
             &message);
    H5Eclear2(H5E_DEFAULT);
    return message.empty() ? "HDF5 error" : message;
}

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
    throw Error(file.string(), what + " (" + hdf5_message() + ")");
}

hid_t check(hid_t id, const std::filesystem::path& file, const std::string& what) {
    if (id < 0) fail(file, what);
    return id;
}

template <typename T>
struct TypeOf;
template <>
struct TypeOf<float> {
    static hid_t file() { return H5T_IEEE_F32LE; }
    static hid_t memory() { return H5T_NATIVE_FLOAT; }
};
template <>
struct TypeOf<double> {
    static hid_t file() { return H5T_IEEE_F64LE; }
    static hid_t memory() { return H5T_NATIVE_DOUBLE; }
};
template <>
struct TypeOf<int64_t> {
    static hid_t file() { return H5T_STD_I64LE; }
    static hid_t memory() { return H5T_NATIVE_INT64; }
};
template <>
struct TypeOf<uint64_t> {
    static hid_t file() { return H5T_STD_U64LE; }
    static hid_t memory() { return H5T_NATIVE_UINT64; }
};

Handle utf8_string_type() {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    return type;
}

Handle simple_space(const std::vector<hsize_t>& dims) {
    return Handle(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
    std::vector<const char*> pointers;
    for (const std::string& s : values) pointers.push_back(s.c_str());
    return pointers;
}

// Every component of an absolute path exists (H5Lexists needs the parents to exist).
bool path_exists(hid_t file, const std::string& path) {
    if (path == "/") return true;
    for (size_t at = path.find('/', 1);; at = path.find('/', at + 1)) {
        const std::string prefix = path.substr(0, at);
        if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
        if (at == std::string::npos) return true;
    }
}

std::string parent_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// About 64 Ki values per chunk: the innermost dimension first, then as many outer rows as fit.
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& dims) {
    constexpr hsize_t kChunkValues = 65536;
    std::vector<hsize_t> chunk(dims.size(), 1);
    hsize_t room = kChunkValues;
    for (size_t i = dims.size(); i-- > 0;) {
        chunk[i] = std::max<hsize_t>(1, std::min(dims[i], room));
        room = std::max<hsize_t>(1, room / chunk[i]);
    }
    return chunk;
}

}  // namespace

struct Hdf5Writer::Impl {
    std::filesystem::path target, temp;
    Handle file;
    bool committed = false;

    hid_t id() const {
        silence_hdf5_errors();
        if (committed) throw Error(target.string(), "written after commit");
        return file.get();
    }

    Handle create_dataset(const std::string& path, hid_t type, const std::vector<hsize_t>& dims) {
        hid_t f = id();
        ensure_group(parent_of(path));
        Handle space = simple_space(dims);
        Handle properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
        hsize_t count = 1;
        for (hsize_t d : dims) count *= d;
        if (count >= hsize_t(kCompressMinValues)) {
            const std::vector<hsize_t> chunk = chunk_shape(dims);
            H5Pset_chunk(properties.get(), int(chunk.size()), chunk.data());
            H5Pset_shuffle(properties.get());
            H5Pset_deflate(properties.get(), 4);
        }
        return Handle(check(H5Dcreate2(f, path.c_str(), type, space.get(), H5P_DEFAULT, properties.get(), H5P_DEFAULT), target,
                            "cannot create dataset " + path),
                      H5Dclose);
    }

    void ensure_group(const std::string& path) {
        if (path_exists(id(), path)) return;
        Handle links(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
        H5Pset_create_intermediate_group(links.get(), 1);
        Handle group(check(H5Gcreate2(id(), path.c_str(), links.get(), H5P_DEFAULT, H5P_DEFAULT), target,
                           "cannot create group " + path),
                     H5Gclose);
    }
};

// "<target>.tmp-XXXXXX" created exclusively by HDF5 itself (not mkstemp), so the file gets the usual
// permissions (0666 less the umask) rather than mkstemp's 0600.
Hdf5Writer::Hdf5Writer(const std::filesystem::path& target) : impl_(std::make_unique<Impl>()) {
    silence_hdf5_errors();
    impl_->target = target;
    if (const auto folder = target.parent_path(); !folder.empty() && !std::filesystem::is_directory(folder))
        throw Error(target.string(), "cannot create output: no such folder");
    std::random_device entropy;
    static const char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100 && !impl_->file.valid(); ++attempt) {
        std::string name = target.string() + ".tmp-";
        for (int i = 0; i < 6; ++i) name += kLetters[entropy() % (sizeof kLetters - 1)];
        if (std::filesystem::exists(name)) continue;
        const hid_t file = H5Fcreate(name.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
        if (file < 0) throw Error(target.string(), "cannot create output (" + hdf5_message() + ")");
        impl_->temp = name;
        impl_->file = Handle(file, H5Fclose);
    }
    if (!impl_->file.valid()) throw Error(target.string(), "cannot create output: no free temporary name");
}

Hdf5Writer::~Hdf5Writer() {
    if (impl_->committed) return;
    impl_->file = Handle();
    std::error_code ignored;
    std::filesystem::remove(impl_->temp, ignored);
}

const std::filesystem::path& Hdf5Writer::target() const { return impl_->target; }

void Hdf5Writer::create_group(const std::string& path) { impl_->ensure_group(path); }

void Hdf5Writer::set_attribute(const std::string& object, const std::string& name, const AttributeValue& value) {
    const hid_t file = impl_->id();
    const std::string what = "cannot write attribute '" + name + "' of " + object;
    Handle target(check(H5Oopen(file, object.c_str(), H5P_DEFAULT), impl_->target, what), H5Oclose);
    if (H5Aexists(target.get(), name.c_str()) > 0) H5Adelete(target.get(), name.c_str());
    auto write = [&](hid_t file_type, hid_t memory_type, const std::vector<hsize_t>& dims, const void* data) {
        Handle space = dims.empty() ? Handle(H5Screate(H5S_SCALAR), H5Sclose) : simple_space(dims);
        Handle attribute(check(H5Acreate2(target.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                               impl_->target, what),
                         H5Aclose);
        if (H5Awrite(attribute.get(), memory_type, data) < 0) fail(impl_->target, what);
    };
    const Handle text = utf8_string_type();
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::string>) {
                const char* pointer = v.c_str();
                write(text.get(), text.get(), {}, &pointer);
            } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
                const std::vector<const char*> pointers = c_strings(v);
                write(text.get(), text.get(), {hsize_t(v.size())}, pointers.data());
            } else if constexpr (std::is_arithmetic_v<V>) {
                write(TypeOf<V>::file(), TypeOf<V>::memory(), {}, &v);
            } else {
                using T = typename V::value_type;
                write(TypeOf<T>::file(), TypeOf<T>::memory(), {hsize_t(v.size())}, v.data());
            }
        },
        value);
}

template <typename T>
void Hdf5Writer::write_dataset(const std::string& path, std::span<const T> values, std::vector<int64_t> dims) {
    if (dims.empty()) dims = {int64_t(values.size())};
    std::vector<hsize_t> extent;
    int64_t count = 1;
    for (int64_t d : dims) {
        extent.push_back(hsize_t(d));
        count *= d;
    }
    if (count != int64_t(values.size()))
        throw Error(impl_->target.string(), "dataset " + path + ": shape does not match its " + std::to_string(values.size()) + " values");
    Handle dataset = impl_->create_dataset(path, TypeOf<T>::file(), extent);
    if (count > 0 && H5Dwrite(dataset.get(), TypeOf<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        fail(impl_->target, "cannot write dataset " + path);
}

template void Hdf5Writer::write_dataset<float>(const std::string&, std::span<const float>, std::vector<int64_t>);
template void Hdf5Writer::write_dataset<double>(const std::string&, std::span<const double>, std::vector<int64_t>);
template void Hdf5Writer::write_dataset<int64_t>(const std::string&, std::span<const int64_t>, std::vector<int64_t>);
template void Hdf5Writer::write_dataset<uint64_t>(const std::string&, std::span<const uint64_t>, std::vector<int64_t>);

void Hdf5Writer::write_strings(const std::string& path, const std::vector<std::string>& values) {
    const Handle text = utf8_string_type();
    Handle dataset = impl_->create_dataset(path, text.get(), {hsize_t(values.size())});
    const std::vector<const char*> pointers = c_strings(values);
    if (!values.empty() && H5Dwrite(dataset.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
        fail(impl_->target, "cannot write dataset " + path);
}

void Hdf5Writer::commit() {
    impl_->id();
    try {
        impl_->file.close();
    } catch (const Error&) {
        fail(impl_->target, "cannot finish writing output");
    }
    const int fd = ::open(impl_->temp.c_str(), O_RDONLY);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    std::error_code error;
    if (synced) std::filesystem::rename(impl_->temp, impl_->target, error);
    if (!synced || error) throw Error(impl_->target.string(), "cannot finish writing output (disk full?)");
    impl_->committed = true;
}

struct Hdf5Reader::Impl {
    std::filesystem::path path;
    Handle file;

    hid_t id() const {
        silence_hdf5_errors();
        return file.get();
    }
    Handle open_object(const std::string& object) const {
        return Handle(check(H5Oopen(id(), object.c_str(), H5P_DEFAULT), path, "no object " + object), H5Oclose);
    }
    Handle open_dataset(const std::string& dataset) const {
        return Handle(check(H5Dopen2(id(), dataset.c_str(), H5P_DEFAULT), path, "no dataset " + dataset), H5Dclose);
    }
};

Hdf5Reader::Hdf5Reader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>()) {
    silence_hdf5_errors();
    impl_->path = path;
    if (!std::filesystem::is_regular_file(path)) throw Error(path.string(), "no such file");
    if (H5Fis_hdf5(path.c_str()) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        throw Error(path.string(), "not an HDF5 file");
    }
    impl_->file = Handle(check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "cannot open"), H5Fclose);
}

Hdf5Reader::~Hdf5Reader() = default;

const std::filesystem::path& Hdf5Reader::path() const { return impl_->path; }

bool Hdf5Reader::exists(const std::string& path) const { return path_exists(impl_->id(), path); }

std::vector<std::string> Hdf5Reader::children(const std::string& group) const {
    Handle g(check(H5Gopen2(impl_->id(), group.c_str(), H5P_DEFAULT), impl_->path, "no group " + group), H5Gclose);
    std::vector<std::string> names;
    H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
               [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
                   static_cast<std::vector<std::string>*>(data)->push_back(name);
                   return 0;
               },
               &names);
    return names;
}

std::vector<std::string> Hdf5Reader::attribute_names(const std::string& object) const {
    Handle o = impl_->open_object(object);
    std::vector<std::string> names;
    H5Aiterate2(o.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
                    static_cast<std::vector<std::string>*>(data)->push_back(name);
                    return 0;
                },
                &names);
    return names;
}

bool Hdf5Reader::has_attribute(const std::string& object, const std::string& name) const {
    return exists(object) && H5Aexists_by_name(impl_->id(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

AttributeValue Hdf5Reader::attribute(const std::string& object, const std::string& name) const {
    const std::string what = object + ": attribute '" + name + "'";
    if (!has_attribute(object, name)) throw Error(impl_->path.string(), what + " is missing");
    Handle attribute(check(H5Aopen_by_name(impl_->id(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), impl_->path, what),
                     H5Aclose);
    Handle type(H5Aget_type(attribute.get()), H5Tclose);
    Handle space(H5Aget_space(attribute.get()), H5Sclose);
    const bool scalar = H5Sget_simple_extent_ndims(space.get()) == 0;
    const size_t count = size_t(H5Sget_simple_extent_npoints(space.get()));
    auto read = [&](auto sample) {
        using T = decltype(sample);
        std::vector<T> values(count);
        if (count && H5Aread(attribute.get(), TypeOf<T>::memory(), values.data()) < 0) fail(impl_->path, "cannot read " + what);
        return scalar ? AttributeValue(values.at(0)) : AttributeValue(values);
    };
    switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: return read(int64_t{});
    case H5T_FLOAT: return read(double{});
    case H5T_STRING: {
        if (H5Tis_variable_str(type.get()) <= 0) throw Error(impl_->path.string(), what + " is a fixed-length string");
        const Handle text = utf8_string_type();
        std::vector<char*> pointers(count);
        if (count && H5Aread(attribute.get(), text.get(), pointers.data()) < 0) fail(impl_->path, "cannot read " + what);
        std::vector<std::string> values;
        for (char* p : pointers) values.emplace_back(p ? p : "");
        H5Dvlen_reclaim(text.get(), space.get(), H5P_DEFAULT, pointers.data());
        return scalar ? AttributeValue(values.at(0)) : AttributeValue(values);
    }
    default: throw Error(impl_->path.string(), what + " has a type other than integer, float or string");
    }
}

std::vector<int64_t> Hdf5Reader::shape(const std::string& dataset) const {
    Handle d = impl_->open_dataset(dataset);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    std::vector<hsize_t> dims(size_t(std::max(0, H5Sget_simple_extent_ndims(space.get()))));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return std::vector<int64_t>(dims.begin(), dims.end());
}

template <typename T>
std::vector<T> Hdf5Reader::read_dataset(const std::string& dataset) const {
    Handle d = impl_->open_dataset(dataset);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    std::vector<T> values(size_t(H5Sget_simple_extent_npoints(space.get())));
    if (!values.empty() && H5Dread(d.get(), TypeOf<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        fail(impl_->path, "cannot read dataset " + dataset);
    return values;
}

template std::vector<float> Hdf5Reader::read_dataset<float>(const std::string&) const;
template std::vector<double> Hdf5Reader::read_dataset<double>(const std::string&) const;
template std::vector<int64_t> Hdf5Reader::read_dataset<int64_t>(const std::string&) const;
template std::vector<uint64_t> Hdf5Reader::read_dataset<uint64_t>(const std::string&) const;

std::vector<std::string> Hdf5Reader::read_strings(const std::string& dataset) const {
    Handle d = impl_->open_dataset(dataset);
    Handle space(H5Dget_space(d.get()), H5Sclose);
    Handle type(H5Dget_type(d.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) <= 0)
        throw Error(impl_->path.string(), "dataset " + dataset + " does not hold variable-length strings");
    const Handle text = utf8_string_type();
    std::vector<char*> pointers(size_t(H5Sget_simple_extent_npoints(space.get())));
    if (!pointers.empty() && H5Dread(d.get(), text.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
        fail(impl_->path, "cannot read dataset " + dataset);
    std::vector<std::string> values;
    for (char* p : pointers) values.emplace_back(p ? p : "");
    if (!pointers.empty()) H5Dvlen_reclaim(text.get(), space.get(), H5P_DEFAULT, pointers.data());
    return values;
}

namespace {

template <typename T>
T typed_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name, const char* kind) {
    const AttributeValue value = file.attribute(object, name);
    if (const T* v = std::get_if<T>(&value)) return *v;
    throw Error(file.path().string(), object + ": attribute '" + name + "' is not " + kind);
}

}  // namespace

double number_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    const AttributeValue value = file.attribute(object, name);
    if (const int64_t* i = std::get_if<int64_t>(&value)) return double(*i);
    return typed_attribute<double>(file, object, name, "a number");
}

int64_t integer_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    return typed_attribute<int64_t>(file, object, name, "an integer");
}

std::string string_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    return typed_attribute<std::string>(file, object, name, "a string");
}

std::vector<std::string> strings_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    return typed_attribute<std::vector<std::string>>(file, object, name, "a list of strings");
}

std::vector<double> numbers_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    return typed_attribute<std::vector<double>>(file, object, name, "a list of numbers");
}

std::vector<int64_t> integers_attribute(const Hdf5Reader& file, const std::string& object, const std::string& name) {
    return typed_attribute<std::vector<int64_t>>(file, object, name, "a list of integers");
}

}  // namespace qb
