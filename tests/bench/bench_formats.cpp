// Encode / decode throughput of every registered format that can encode, on a synthetic gaussian
// matrix (fixed seed), single-threaded and with all hardware threads, beside two scalar baselines
// (memcpy, a plain f32<->f16 loop). Throughput is MB of f32 values (input of encode, output of decode)
// per second. SQNR is measured on the decoded matrix as a sanity check of what was timed.
//   bench_formats [--rows R] [--cols C] [--formats a,b,c] [--quick]
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/quant/error_metrics.h"
#include "core/quant/format.h"
#include "core/util/error.h"
#include "core/util/half.h"
#include "core/util/parallel.h"
#include "tests/bench/support.h"

namespace {

struct Options {
    int64_t rows = 4096;
    int64_t cols = 11008;
    double min_seconds = 0.2;
    std::vector<std::string> formats;  // empty: every registered format
};

struct Row {
    std::string name;
    double bits = 0;
    double encode_1 = 0, encode_all = 0, decode_1 = 0, decode_all = 0;  // seconds per call
    double sqnr_db = 0;
};

std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1)
        parts.push_back(list.substr(start, comma - start));
    parts.push_back(list.substr(start));
    return parts;
}

int64_t positive_count(const std::string& option, const std::string& text) {
    int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value <= 0)
        throw qb::Error("bench_formats", option + " needs a positive integer, got '" + text + "'");
    return value;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--rows" && has_value) {
            o.rows = positive_count(arg, argv[++i]);
        } else if (arg == "--cols" && has_value) {
            o.cols = positive_count(arg, argv[++i]);
        } else if (arg == "--formats" && has_value) {
            o.formats = split(argv[++i]);
        } else if (arg == "--quick") {
            o.rows = 1024;
            o.cols = 4096;
            o.min_seconds = 0.1;
        } else {
            throw qb::Error("bench_formats", "unknown option '" + arg +
                                                 "' (usage: bench_formats [--rows R] [--cols C] [--formats a,b,c] [--quick])");
        }
    }
    return o;
}

std::vector<float> gaussian_matrix(int64_t rows, int64_t cols) {
    std::mt19937 rng(20240601);
    std::normal_distribution<float> normal(0.0f, 0.02f);  // a typical weight scale
    std::vector<float> x(static_cast<size_t>(rows * cols));
    for (float& v : x) v = normal(rng);
    return x;
}

// Runs fn(begin, end) over [0, n) on one thread, then on all threads; returns both times per call.
std::pair<double, double> time_both(int64_t n, double min_seconds, const std::function<void(int64_t, int64_t)>& fn) {
    const double one = qbbench::time_per_call([&] { qb::parallel_for(n, 1, fn); }, min_seconds);
    const double all = qbbench::time_per_call([&] { qb::parallel_for(n, 0, fn); }, min_seconds);
    return {one, all};
}

std::vector<Row> baselines(const Options& o, const std::vector<float>& x) {
    const int64_t n = o.rows * o.cols;
    std::vector<float> copy(x.size());
    std::vector<uint16_t> half(x.size());
    Row memcpy_row{"baseline: memcpy f32", 32};
    std::tie(memcpy_row.encode_1, memcpy_row.encode_all) = time_both(n, o.min_seconds, [&](int64_t b, int64_t e) {
        std::memcpy(copy.data() + b, x.data() + b, size_t(e - b) * sizeof(float));
    });
    memcpy_row.decode_1 = memcpy_row.encode_1;
    memcpy_row.decode_all = memcpy_row.encode_all;
    memcpy_row.sqnr_db = INFINITY;
    Row half_row{"baseline: scalar f16 loop", 16};
    std::tie(half_row.encode_1, half_row.encode_all) = time_both(n, o.min_seconds, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) half[size_t(i)] = qb::fp32_to_fp16(x[size_t(i)]);
    });
    std::tie(half_row.decode_1, half_row.decode_all) = time_both(n, o.min_seconds, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) copy[size_t(i)] = qb::fp16_to_fp32(half[size_t(i)]);
    });
    qb::ErrorAccumulator acc(o.cols);
    acc.add_rows(x.data(), copy.data(), o.rows);
    half_row.sqnr_db = acc.metrics().sqnr_db;
    return {memcpy_row, half_row};
}

Row measure(const qb::FormatInfo& f, const Options& o, const std::vector<float>& x, std::vector<float>& decoded) {
    std::vector<uint8_t> encoded(f.tensor_bytes(o.rows, o.cols));
    Row row{f.name, f.bits_per_weight(o.rows, o.cols)};
    auto encode = [&](int threads) { qb::encode_tensor(f, x.data(), o.rows, o.cols, encoded.data(), nullptr, threads); };
    auto decode = [&](int threads) { qb::decode_rows(f, encoded.data(), o.cols, 0, o.rows, decoded.data(), threads); };
    row.encode_1 = qbbench::time_per_call([&] { encode(1); }, o.min_seconds);
    row.encode_all = qbbench::time_per_call([&] { encode(0); }, o.min_seconds);
    row.decode_1 = qbbench::time_per_call([&] { decode(1); }, o.min_seconds);
    row.decode_all = qbbench::time_per_call([&] { decode(0); }, o.min_seconds);
    qb::ErrorAccumulator acc(o.cols);
    acc.add_rows(x.data(), decoded.data(), o.rows);
    row.sqnr_db = acc.metrics().sqnr_db;
    return row;
}

std::vector<const qb::FormatInfo*> chosen_formats(const Options& o) {
    std::vector<const qb::FormatInfo*> formats;
    if (o.formats.empty()) {
        for (const qb::FormatInfo* f : qb::registered_formats()) formats.push_back(f);
    } else {
        for (const std::string& name : o.formats) formats.push_back(&qb::format_by_name(name));
    }
    return formats;
}

void print_row(const Row& r, double megabytes) {
    auto rate = [&](double seconds) { return megabytes / seconds; };
    std::printf("%-28s %7.4f %10.1f %10.1f %10.1f %10.1f %8.2f\n", r.name.c_str(), r.bits, rate(r.encode_1),
                rate(r.encode_all), rate(r.decode_1), rate(r.decode_all), r.sqnr_db);
}

int run(const Options& o) {
    const auto formats = chosen_formats(o);  // unknown names fail before any work
    const double megabytes = double(o.rows) * double(o.cols) * 4.0 / 1e6;
    qbbench::print_header("formats: encode/decode throughput");
    std::printf("matrix %lld x %lld gaussian (sigma 0.02, seed 20240601), %.2f MB f32; all threads = %d; "
                "min %.1f s per measurement\n",
                (long long)o.rows, (long long)o.cols, megabytes, qb::hardware_threads(), o.min_seconds);
    const auto x = gaussian_matrix(o.rows, o.cols);
    std::vector<float> decoded(x.size());
    std::printf("%-28s %7s %10s %10s %10s %10s %8s\n", "format", "bpw", "enc 1T", "enc all", "dec 1T", "dec all",
                "SQNR dB");
    std::printf("%-28s %7s %10s %10s %10s %10s %8s\n", "", "", "MB/s", "MB/s", "MB/s", "MB/s", "");
    for (const Row& r : baselines(o, x)) print_row(r, megabytes);
    std::vector<std::string> notes;
    for (const qb::FormatInfo* f : formats) {
        if (!f->can_encode()) {
            notes.push_back(f->name + ": decode-only storage type, not measured");
        } else if (auto problem = f->shape_problem(o.cols); !problem.empty()) {
            notes.push_back(f->name + ": skipped, " + problem);
        } else {
            print_row(measure(*f, o, x, decoded), megabytes);
        }
        std::fflush(stdout);
    }
    for (const std::string& note : notes) std::printf("note: %s\n", note.c_str());
    std::printf("peak RSS: %.1f MB\n", double(qbbench::peak_rss_bytes()) / 1e6);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse_options(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 2;
    }
}
