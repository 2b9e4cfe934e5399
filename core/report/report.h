// Reports of quantize runs (core/pipeline/run_result.h): a comparison table (per configuration: size, bpw,
// ppl, Δppl absolute and %, KLD mean / p99, top-1 agreement, wall time) and per-layer tables (format,
// algorithm, bytes, the algorithm's errors), rendered as Markdown, CSV, LaTeX (booktabs) or JSON.
// Every rendering carries its provenance: the command that regenerates the report, the tool version,
// and per run the exact quantize command, model and text SHA-256 and the evaluation protocol.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/pipeline/run_result.h"
#include "core/store/hdf5_file.h"

namespace qb {

enum class ReportFormat { Markdown, Csv, Latex, Json };

ReportFormat report_format_by_name(std::string_view name);  // md, csv, latex, json; throws Error("format", ...)
std::string_view report_format_name(ReportFormat format);

struct ReportTable {
    std::string title;
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
};

ReportTable comparison_table(std::span<const RunResult> runs);
ReportTable layer_table(const RunResult& run);

// The comparison table, then one per-layer table per run (with_layers), as one document.
// `command`: the command line that regenerates this report.
std::string render_report(std::span<const RunResult> runs, ReportFormat format, const std::string& command,
                          bool with_layers = true);

// /plans/<config> (the plan JSON, per-tensor format, algorithm, bytes and errors) and /evaluations/<config>
// (ppl, Δppl, KLD, sizes, times, provenance) of an analysis file, through the generic HDF5 layer.
void write_run_to_analysis(Hdf5Writer& file, const RunResult& run);

}  // namespace qb
