// The Quantbench analysis file (*.qbh5): HDF5 written by `quantbench-cli calibrate` and `sensitivity`,
// read by the GUI and by scripts (h5py). Generic access (any dataset or attribute by path) is
// hdf5_file.h; this file fixes the layout, format_version 1:
//
// /                      root attributes (provenance)
//   format "quantbench-analysis", format_version 1, tool "quantbench", tool_version, created (UTC,
//   ISO 8601), command_line, model_path, model_architecture, model_files [str], model_sha256 [str]
//   (SHA-256 of each file in model_files: weights, config, tokenizer);
//   after calibration: calibration_text, calibration_text_sha256, calibration_tokens, calibration_ctx,
//   calibration_chunks, calibration_protocol;
//   after sensitivity: evaluation_text, evaluation_text_sha256, evaluation_protocol, evaluation_ctx,
//   evaluation_chunks, evaluation_tokens, calibration_file, calibration_file_sha256 (the calibration_*
//   attributes are copied from that file).
// /tensors/<canonical name>/          statistics of a linear weight (weight_stats.h)
//   attrs: shape [rows, cols], storage_format, input_record, count, nan_count, inf_count, mean, std, min,
//          max, skewness, excess_kurtosis, tail_sigma [k], tail_fraction [share of |w| > k·σ]
//   histogram/counts (u64 [bins]), histogram/bin_edges (f64 [bins+1]); attrs scale, underflow, overflow
//   row_absmax (f32 [rows]), col_absmax (f32 [cols])
//   heat_map (f32 [cell rows, cell cols], max or mean |w| per block; attr reduce),
//   heat_map_row_edges, heat_map_col_edges (i64 [cells+1]: block i covers [edges[i], edges[i+1]))
// /activations           attrs: records [str] (forward order), tokens, ctx, chunks, passes,
//                         outlier_threshold, hessian_normalisation "X^T X / tokens"
// /activations/<record>/              the input of one or more linear weights (calibration.h)
//   attrs: tensors [str], channels, tokens, outlier_channels, hessian_trace, count, mean, std, min, max,
//          skewness, excess_kurtosis
//   histogram/{counts, bin_edges} (linear, of x), abs_histogram/{counts, bin_edges} (log-spaced, of |x|)
//   channel_absmax (f32 [d]), mean_abs (f64 [d]), mean_sq (f64 [d]; llama.cpp's imatrix),
//   outlier_tokens (i64 [d]: tokens with |x| > outlier_threshold)
//   token_map (f32 [channel cells, token cells], max |x|), token_map_channel_edges, token_map_token_edges
//   hessian_diagonal (f64 [d]: diag(H), i.e. mean_sq up to H's f32 block products; mean_sq itself when
//   no full Hessian was computed); hessian (f64 [d, d], only with --full-hessian; chunked, gzip)
// /sensitivity           one row per (tensor, format), parallel 1-D datasets (sensitivity.h):
//   tensor, format (str), bits_per_weight, hessian_error, hawq, mse, kurtosis, outlier_share,
//   delta_ppl, mean_kld (f64; NaN when not measured)
//   attrs: base_ppl, importance ("mean_sq" | "none"), evaluation_protocol, evaluation_ctx,
//          evaluation_chunks, evaluation_tokens, spearman_<estimate>_vs_<target> (all formats together)
//   /sensitivity/spearman/{estimate, target, format ("" = all formats), rho, count}
//   /sensitivity/skipped/{tensor, format, problem}
// Every dataset of numbers has a "units" attribute ("nats", "bits", "activation^2", "count" ...).
// Reserved for later steps: /plans/<name>/ and /evaluations/<name>/, written through hdf5_file.h.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/analysis/calibration.h"
#include "core/analysis/sensitivity.h"
#include "core/analysis/weight_stats.h"
#include "core/model/model.h"
#include "core/store/hdf5_file.h"
#include "core/store/text_file.h"

namespace qb {

inline constexpr int64_t kAnalysisFormatVersion = 1;

struct FileDigest {
    std::string path;
    std::string sha256;
};
// Every file the model was read from (weights, config.json, tokenizer), sorted, with their SHA-256.
std::vector<FileDigest> model_file_digests(const Model& model);

// Root attributes every analysis file starts with.
void write_provenance(Hdf5Writer& file, const Model& model, const std::string& command_line);
void write_calibration(Hdf5Writer& file, const CalibrationRun& run, const TextFile& text);
void write_activations(Hdf5Writer& file, const ActivationStats& stats, bool full_hessian);
void write_weight_stats(Hdf5Writer& file, const WeightStats& stats, const std::string& input_record);
// /tensors/<name> for every weight of `records` (analyze_weights without the format error table), one
// tensor resident at a time. Progress counts tensors.
void write_tensor_statistics(Hdf5Writer& file, const Model& model, const std::vector<InputRecord>& records,
                             JobControl* control, int threads);
// Also records the calibration file (path, SHA-256, its calibration_* attributes) at the root.
void write_sensitivity(Hdf5Writer& file, const SensitivityResult& result, const TextFile& evaluation_text,
                       const Hdf5Reader& calibration_file);

// Reading an analysis file back (GUI, sensitivity command). Throws Error(path, ...) unless the file is
// an HDF5 file with format "quantbench-analysis" and a format_version this build reads.
class AnalysisFile {
public:
    explicit AnalysisFile(const std::filesystem::path& path);

    const Hdf5Reader& hdf5() const { return reader_; }
    std::map<std::string, AttributeValue> provenance() const;  // the root attributes
    std::vector<std::string> tensors() const;                   // under /tensors, in name order
    std::vector<std::string> activation_records() const;        // in forward order
    bool has_full_hessians() const;

    WeightStats weight_stats(const std::string& tensor) const;  // moments, tails, histogram, channels, heat map
    std::string input_record(const std::string& tensor) const;
    ActivationStats activations(const std::string& record, bool with_hessian = false) const;
    std::optional<SensitivityResult> sensitivity() const;  // nullopt when the file has none
    // Records and their full Hessians, loaded one at a time; the AnalysisFile must outlive the source.
    HessianSource hessian_source() const;

private:
    Hdf5Reader reader_;
};

}  // namespace qb
