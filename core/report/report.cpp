#include "core/report/report.h"

#include <cmath>
#include <cstdio>

#include "core/util/error.h"

namespace qb {
namespace {

std::string fixed(double value, int digits) {
    if (std::isnan(value)) return "–";
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, value);
    return text;
}

std::string general(double value) {
    if (std::isnan(value)) return "–";
    char text[64];
    std::snprintf(text, sizeof text, "%.4g", value);
    return text;
}

std::string signed_fixed(double value, int digits) {
    return std::isnan(value) || value < 0 ? fixed(value, digits) : "+" + fixed(value, digits);
}

// "key: value" lines every rendering states before its tables.
std::vector<std::string> provenance_lines(std::span<const RunResult> runs, const std::string& command) {
    std::vector<std::string> lines = {"regenerate: " + command,
                                      "tool: quantbench " + std::string(QB_VERSION)};
    for (const auto& run : runs) {
        const RunProvenance& p = run.provenance;
        std::string line = "run " + run.config + ": " + p.command_line + " | created " + p.created + " | quantbench " +
                           p.tool_version + " | model " + p.model_path;
        for (size_t i = 0; i < p.model_files.size(); ++i)
            line += " | " + p.model_files[i] + " sha256 " + p.model_sha256[i];
        if (!p.calibration_text.empty())
            line += " | calibration " + p.calibration_text + " sha256 " + p.calibration_text_sha256 + " (" +
                    std::to_string(p.calibration_tokens) + " tokens)";
        if (run.evaluation.done)
            line += " | evaluation " + p.evaluation_text + " sha256 " + p.evaluation_text_sha256 + ", protocol " +
                    run.evaluation.protocol + ", ctx " + std::to_string(run.evaluation.ctx) + ", " +
                    std::to_string(run.evaluation.chunks) + " chunks, " + std::to_string(run.evaluation.tokens) +
                    " scored tokens";
        lines.push_back(line);
    }
    return lines;
}

std::string markdown_cell(const std::string& cell) {
    std::string out;
    for (char c : cell) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
}

std::string render_markdown(const ReportTable& t) {
    std::string out = "## " + t.title + "\n\n|";
    for (const auto& c : t.columns) out += " " + markdown_cell(c) + " |";
    out += "\n|";
    for (size_t i = 0; i < t.columns.size(); ++i) out += i == 0 ? "---|" : "---:|";
    for (const auto& row : t.rows) {
        out += "\n|";
        for (const auto& cell : row) out += " " + markdown_cell(cell) + " |";
    }
    return out + "\n\n";
}

std::string csv_cell(const std::string& cell) {
    if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
    std::string out = "\"";
    for (char c : cell) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csv_row(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_cell(cells[i]);
    return out + "\n";
}

std::string render_csv(const ReportTable& t) {
    std::string out = "# " + t.title + "\n" + csv_row(t.columns);
    for (const auto& row : t.rows) out += csv_row(row);
    return out + "\n";
}

std::string latex_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '_': case '%': case '&': case '#': case '$': case '{': case '}': out += std::string("\\") + c; break;
            case '\\': out += "\\textbackslash{}"; break;
            case '~': out += "\\textasciitilde{}"; break;
            case '^': out += "\\textasciicircum{}"; break;
            default: out += c;
        }
    }
    return out;
}

// Escaped, with the table's non-ASCII symbols in math mode (Δ and ± need no extra package there).
std::string latex_cell(const std::string& cell) {
    std::string out = latex_escape(cell);
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"Δ", "$\\Delta$"}, {"±", "$\\pm$"}, {"–", "--"}})
        for (size_t at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size()))
            out.replace(at, from.size(), to);
    return out;
}

std::string latex_row(const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? " & " : "") + latex_cell(cells[i]);
    return out + " \\\\\n";
}

std::string render_latex(const ReportTable& t) {
    std::string out = "\\begin{table}[ht]\n\\centering\n\\begin{tabular}{l" + std::string(t.columns.size() - 1, 'r') +
                      "}\n\\toprule\n" + latex_row(t.columns) + "\\midrule\n";
    for (const auto& row : t.rows) out += latex_row(row);
    return out + "\\bottomrule\n\\end{tabular}\n\\caption{" + latex_escape(t.title) + "}\n\\end{table}\n\n";
}

std::string render_table(const ReportTable& t, ReportFormat format) {
    switch (format) {
        case ReportFormat::Markdown: return render_markdown(t);
        case ReportFormat::Csv: return render_csv(t);
        case ReportFormat::Latex: return render_latex(t);
        case ReportFormat::Json: break;
    }
    throw Error("format", "a JSON report has no tables");
}

std::string render_provenance(const std::vector<std::string>& lines, ReportFormat format) {
    std::string out;
    if (format == ReportFormat::Markdown) out += "# Quantbench report\n\n";
    if (format == ReportFormat::Latex) out += "% Quantbench report (needs \\usepackage{booktabs})\n";
    for (const auto& line : lines) {
        if (format == ReportFormat::Markdown) out += "- " + line + "\n";
        else if (format == ReportFormat::Csv) out += "# " + line + "\n";
        else out += "% " + line + "\n";
    }
    return out + "\n";
}

std::string render_json(std::span<const RunResult> runs, const std::string& command, bool with_layers) {
    nlohmann::json doc = {{"schema", "quantbench.report"}, {"version", 1}, {"command", command},
                          {"tool_version", QB_VERSION}, {"runs", nlohmann::json::array()}};
    for (const auto& run : runs) {
        nlohmann::json j = run_result_to_json(run);
        if (!with_layers) j.erase("tensors");
        doc["runs"].push_back(std::move(j));
    }
    return doc.dump(2) + "\n";
}

}  // namespace

ReportFormat report_format_by_name(std::string_view name) {
    if (name == "md" || name == "markdown") return ReportFormat::Markdown;
    if (name == "csv") return ReportFormat::Csv;
    if (name == "latex" || name == "tex") return ReportFormat::Latex;
    if (name == "json") return ReportFormat::Json;
    throw Error("format", "unknown report format '" + std::string(name) + "' (known: md, csv, latex, json)");
}

std::string_view report_format_name(ReportFormat format) {
    switch (format) {
        case ReportFormat::Markdown: return "md";
        case ReportFormat::Csv: return "csv";
        case ReportFormat::Latex: return "latex";
        case ReportFormat::Json: return "json";
    }
    return "";
}

ReportTable comparison_table(std::span<const RunResult> runs) {
    ReportTable t{"Configurations",
                  {"config", "target", "bytes", "bpw", "ppl", "±", "Δppl", "Δppl %", "KLD mean", "KLD p99", "top-1 %",
                   "wall s"},
                  {}};
    for (const auto& r : runs) {
        const EvaluationSummary& e = r.evaluation;
        t.rows.push_back({r.config, r.target, std::to_string(r.file_bytes), fixed(r.bits_per_weight, 3),
                          fixed(e.ppl, 4), fixed(e.ppl_stderr, 4), signed_fixed(e.delta_ppl, 4),
                          signed_fixed(e.delta_ppl_percent, 2), general(e.mean_kld), general(e.p99_kld),
                          fixed(100 * e.top1_agreement, 2), fixed(r.seconds.total, 2)});
    }
    return t;
}

ReportTable layer_table(const RunResult& run) {
    ReportTable t{"Per-layer: " + run.config,
                  {"tensor", "format", "algorithm", "parameters", "bytes", "bpw", "mse", "SQNR dB", "Hessian error",
                   "seconds"},
                  {}};
    for (const auto& l : run.tensors)
        t.rows.push_back({l.name, l.format, l.algorithm.empty() ? "–" : l.algorithm, std::to_string(l.parameters),
                          std::to_string(l.bytes), fixed(l.bits_per_weight, 3), general(l.mse), fixed(l.sqnr_db, 2),
                          general(l.hessian_error), fixed(l.seconds, 3)});
    return t;
}

std::string render_report(std::span<const RunResult> runs, ReportFormat format, const std::string& command,
                          bool with_layers) {
    if (format == ReportFormat::Json) return render_json(runs, command, with_layers);
    std::string out = render_provenance(provenance_lines(runs, command), format);
    out += render_table(comparison_table(runs), format);
    if (with_layers)
        for (const auto& run : runs) out += render_table(layer_table(run), format);
    return out;
}

void write_run_to_analysis(Hdf5Writer& file, const RunResult& run) {
    const std::string plan = "/plans/" + run.config, evaluation = "/evaluations/" + run.config;
    file.create_group(plan);
    file.set_attribute(plan, "plan_json", run.provenance.plan.dump());
    file.set_attribute(plan, "summary", run.plan_summary);
    std::vector<std::string> names, formats, algorithms;
    std::vector<int64_t> bytes;
    std::vector<double> mse, hessian_error;
    for (const auto& t : run.tensors) {
        names.push_back(t.name);
        formats.push_back(t.format);
        algorithms.push_back(t.algorithm);
        bytes.push_back(int64_t(t.bytes));
        mse.push_back(t.mse);
        hessian_error.push_back(t.hessian_error);
    }
    file.write_strings(plan + "/tensor", names);
    file.write_strings(plan + "/format", formats);
    file.write_strings(plan + "/algorithm", algorithms);
    file.write_dataset<int64_t>(plan + "/bytes", bytes);
    file.write_dataset<double>(plan + "/mse", mse);
    file.write_dataset<double>(plan + "/hessian_error", hessian_error);
    file.set_attribute(plan + "/bytes", "units", std::string("bytes"));

    file.create_group(evaluation);
    const EvaluationSummary& e = run.evaluation;
    const std::pair<const char*, double> numbers[] = {
        {"file_bytes", double(run.file_bytes)}, {"bits_per_weight", run.bits_per_weight},
        {"ppl", e.ppl},  {"ppl_stderr", e.ppl_stderr}, {"base_ppl", e.base_ppl}, {"delta_ppl", e.delta_ppl},
        {"delta_ppl_percent", e.delta_ppl_percent}, {"mean_kld", e.mean_kld}, {"p99_kld", e.p99_kld},
        {"top1_agreement", e.top1_agreement}, {"seconds", run.seconds.total}};
    for (const auto& [name, value] : numbers) file.set_attribute(evaluation, name, value);
    file.set_attribute(evaluation, "protocol", e.protocol);
    file.set_attribute(evaluation, "ctx", e.ctx);
    file.set_attribute(evaluation, "output", run.output);
    file.set_attribute(evaluation, "command_line", run.provenance.command_line);
    file.set_attribute(evaluation, "evaluation_text_sha256", run.provenance.evaluation_text_sha256);
    file.set_attribute(evaluation, "run_json", run_result_to_json(run).dump());
}

}  // namespace qb
