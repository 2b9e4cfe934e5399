#include "core/export/safetensors_export.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/export/gptq_pack.h"
#include "core/export/hf_layout.h"
#include "core/infer/perplexity.h"
#include "core/infer/tokenizer.h"
#include "core/io/safetensors_writer.h"
#include "core/jobs/job.h"
#include "core/model/architecture.h"
#include "core/util/error.h"

namespace qb {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kSideFiles[] = {"tokenizer.model",  "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "generation_config.json", "added_tokens.json",
                                      "vocab.json", "merges.txt"};

// The folder is built as "<target>.tmp-XXXXXX" beside the target and renamed into place by commit();
// until then the target is untouched, and an uncommitted folder is removed.
class OutputFolder {
public:
    explicit OutputFolder(fs::path target) : target_(target.has_filename() ? target : target.parent_path()) {
        std::error_code ec;
        if (fs::exists(target_, ec) && (!fs::is_directory(target_, ec) || !fs::is_empty(target_, ec)))
            throw Error(target_.string(), "exists and is not an empty folder (remove it or choose another output)");
        std::string pattern = target_.string() + ".tmp-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw Error(target_.string(), "cannot create the output folder");
        temp_ = pattern;
        fs::permissions(temp_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                   fs::perms::others_read | fs::perms::others_exec, ec);
    }
    ~OutputFolder() {
        std::error_code ec;
        if (!committed_) fs::remove_all(temp_, ec);
    }
    OutputFolder(const OutputFolder&) = delete;
    OutputFolder& operator=(const OutputFolder&) = delete;

    fs::path file(const std::string& name) const { return temp_ / name; }
    void commit() {
        std::error_code ec;
        fs::rename(temp_, target_, ec);
        if (ec) throw Error(target_.string(), "cannot move the finished output into place: " + ec.message());
        committed_ = true;
    }

private:
    fs::path target_, temp_;
    bool committed_ = false;
};

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.flush()) throw Error(path.string(), "cannot write the file");
}

fs::path hf_source_folder(const Model& source) {
    if (source.source_format != SourceFormat::Safetensors) return {};
    return fs::is_directory(source.source_path) ? source.source_path : source.source_path.parent_path();
}

std::string torch_dtype(const FormatInfo& dtype) {
    return dtype.name == "f16" ? "float16" : dtype.name == "bf16" ? "bfloat16" : "float32";
}

json built_config(const Model& source) {
    const Architecture& arch = architecture_by_name(source.architecture, source.source_path.string());
    json config = {{"architectures", {arch.hf_classes.front()}}, {"model_type", arch.hf_model_types.front()}};
    for (const HParamSource& s : arch.hparams) {
        const auto value = hparam_number(s.param, source.hparams);
        if (s.config_keys.empty() || !value) continue;
        json& entry = config[s.config_keys.front()];
        if (s.param == HParam::ParallelResidual) entry = *value != 0;
        else if (is_count(s.param)) entry = int64_t(*value);
        else entry = *value;
    }
    if (source.tokenizer.kind != TokenizerSource::Kind::None) {
        const Tokenizer tokenizer = model_tokenizer(source);
        if (tokenizer.bos_id() >= 0) config["bos_token_id"] = tokenizer.bos_id();
        if (tokenizer.eos_id() >= 0) config["eos_token_id"] = tokenizer.eos_id();
    }
    return config;
}

// The source folder's config.json (key order kept) or one built from the hyper-parameters, stating the
// dtype and whether the output is tied.
json output_config(const Model& source, const ExportPlan& plan) {
    const fs::path folder = hf_source_folder(source);
    json config;
    if (!folder.empty() && fs::is_regular_file(folder / "config.json")) {
        std::ifstream in(folder / "config.json", std::ios::binary);
        try {
            config = json::parse(in);
        } catch (const json::exception& e) {
            throw Error((folder / "config.json").string(), std::string("invalid JSON: ") + e.what());
        }
    } else {
        config = built_config(source);
    }
    config.erase("quantization_config");
    config["tie_word_embeddings"] = plan_ties_output(plan, source);
    config["torch_dtype"] = torch_dtype(plan_dtype(plan));
    return config;
}

void copy_side_files(const Model& source, const OutputFolder& out) {
    const fs::path folder = hf_source_folder(source);
    if (folder.empty()) return;
    for (const char* name : kSideFiles) {
        std::error_code ec;
        if (!fs::is_regular_file(folder / name, ec)) continue;
        fs::copy_file(folder / name, out.file(name), ec);
        if (ec) throw Error((folder / name).string(), "cannot copy to the output: " + ec.message());
    }
}

std::map<std::string, std::string> provenance(const ExportPlan& plan, const std::vector<PlannedTensor>& tensors,
                                              const Model& source) {
    std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                   {"quantbench.version", QB_VERSION},
                                                   {"quantbench.source", source.source_path.filename().string()},
                                                   {"quantbench.plan", plan_summary(plan, tensors)}};
    for (const auto& [key, value] : plan.metadata) metadata[key] = value;
    return metadata;
}

template <typename T>
std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

struct Writer {
    const Model& source;
    const ExportPlan& plan;
    const JobControl* job;
    size_t total = 0;
    std::vector<SafetensorsOutput> outputs;

    void step(size_t index, const std::string& name) const {
        if (job) job->step(int64_t(index), int64_t(total), name);
    }

    // The tensor decoded from its output format, in Hugging Face layout, stored as the plan's dtype.
    void add_dequantized(const PlannedTensor& t, size_t index) {
        const HfPlacement p = *hf_placement(source, t.name);
        const FormatInfo& dtype = plan_dtype(plan);
        outputs.push_back({p.name, dtype.safetensors_dtype, p.shape, {}, [this, &t, p, &dtype, index](const ByteSink& sink) {
            step(index, t.name);
            const int64_t rows = t.source->rows(), cols = t.source->cols();
            const std::vector<float> stored =
                to_hf_layout(p, decode_tensor(*t.format, t.produce(), rows, cols, plan.threads), rows, cols);
            sink(encode_tensor(dtype, stored, p.transposed ? cols : rows, p.transposed ? rows : cols, nullptr, plan.threads));
        }});
    }

    // qweight, qzeros, scales and g_idx of one module, packed once when qweight is written.
    void add_packed(const PlannedTensor& t, size_t index) {
        const HfPlacement p = *hf_placement(source, t.name);
        const std::string module = hf_module_name(p);
        const int bits = t.format->grid.bits;
        const int64_t out = t.source->rows(), in = t.source->cols();
        const int64_t groups = t.format->grid.group > 0 ? in / t.format->grid.group : 1;
        auto packed = std::make_shared<std::optional<GptqModule>>();
        const std::string subject = plan.output.string() + ": tensor '" + t.name + "'";
        outputs.push_back({module + ".qweight", "I32", {in * bits / 32, out}, {},
                           [this, &t, p, packed, subject, index](const ByteSink& sink) {
                               step(index, t.name);
                               *packed = pack_gptq(*t.format, t.produce(), t.source->rows(), t.source->cols(), t.act_order,
                                                   p.row_order, subject);
                               sink(as_bytes((*packed)->qweight));
                           }});
        outputs.push_back({module + ".qzeros", "I32", {groups, out * bits / 32}, {},
                           [packed](const ByteSink& sink) { sink(as_bytes((*packed)->qzeros)); }});
        outputs.push_back({module + ".scales", "F16", {groups, out}, {},
                           [packed](const ByteSink& sink) { sink(as_bytes((*packed)->scales)); }});
        outputs.push_back({module + ".g_idx", "I32", {in}, {}, [packed](const ByteSink& sink) {
                               sink(as_bytes((*packed)->g_idx));
                               packed->reset();
                           }});
    }
};

bool is_packed(const PlannedTensor& t) { return t.format->kind == FormatKind::IntGrid; }

// The settings of one packed module as quantize_config.json states them.
struct ModuleQuant {
    int bits;
    int64_t group_size;
    bool sym;
    bool desc_act;
    auto key() const { return std::tuple(bits, group_size, sym, desc_act); }
};

ModuleQuant module_quant(const PlannedTensor& t) {
    const GridParams& g = t.format->grid;
    return {g.bits, g.group > 0 ? g.group : -1, !g.asymmetric, !t.act_order.empty()};
}

// Anchored regex matching exactly this module name.
std::string exact_pattern(const std::string& module) {
    std::string pattern = "^";
    for (char c : module) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') pattern += '\\';
        pattern += c;
    }
    return pattern + "$";
}

json quantize_config(const Model& source, const std::vector<PlannedTensor>& tensors, const std::string& subject) {
    std::map<std::tuple<int, int64_t, bool, bool>, int> counts;
    for (const auto& t : tensors)
        if (is_packed(t)) ++counts[module_quant(t).key()];
    if (counts.empty()) throw Error(subject, "the plan puts no linear layer on an integer grid: nothing to pack for GPTQ");
    const auto base = std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
                          return a.second < b.second;
                      })->first;
    const auto [bits, group_size, sym, desc_act] = base;
    json dynamic = json::object();
    for (const auto& t : tensors) {
        if (!is_gptq_linear(*t.source)) continue;
        const std::string pattern = exact_pattern(hf_module_name(*hf_placement(source, t.name)));
        if (!is_packed(t)) {
            dynamic["-:" + pattern] = json::object();
            continue;
        }
        const ModuleQuant q = module_quant(t);
        if (q.key() == base) continue;
        json& rule = dynamic["+:" + pattern];
        rule = {{"bits", q.bits}, {"group_size", q.group_size}};
        if (q.sym != sym) rule["sym"] = q.sym;
        if (q.desc_act != desc_act) rule["desc_act"] = q.desc_act;
    }
    json config = {{"bits", bits},          {"group_size", group_size},      {"desc_act", desc_act},
                   {"sym", sym},            {"lm_head", false},              {"true_sequential", true},
                   {"quant_method", "gptq"}, {"checkpoint_format", "gptq"}, {"pack_dtype", "int32"}};
    if (!dynamic.empty()) config["dynamic"] = dynamic;
    config["meta"] = {{"quantizer", {std::string("quantbench:") + QB_VERSION}}};
    return config;
}

uint64_t export_folder(const Model& source, const ExportPlan& plan, const JobControl* job, Model* intended) {
    const std::vector<PlannedTensor> tensors = resolve_export_plan(plan, source, intended);
    const bool gptq = plan.target == ExportTarget::Gptq;
    json config = output_config(source, plan);
    const json quantization = gptq ? quantize_config(source, tensors, plan.output.string()) : json();
    if (gptq) config["quantization_config"] = quantization;

    OutputFolder out(plan.output);
    Writer writer{source, plan, job, tensors.size(), {}};
    for (size_t i = 0; i < tensors.size(); ++i) {
        if (gptq && is_packed(tensors[i])) writer.add_packed(tensors[i], i);
        else writer.add_dequantized(tensors[i], i);
    }
    write_safetensors(out.file(kModelFile), writer.outputs, provenance(plan, tensors, source));
    write_text(out.file("config.json"), config.dump(2) + "\n");
    if (gptq) write_text(out.file("quantize_config.json"), quantization.dump(2) + "\n");
    copy_side_files(source, out);
    if (job) job->step(int64_t(tensors.size()), int64_t(tensors.size()), "written");
    const uint64_t size = fs::file_size(out.file(kModelFile));
    out.commit();
    finish_intended(plan, source, intended);
    return size;
}

}  // namespace

uint64_t export_safetensors(const Model& source, const ExportPlan& plan, const JobControl* job, Model* intended) {
    if (plan.target != ExportTarget::Safetensors) throw Error("export", "export_safetensors() needs a safetensors plan");
    return export_folder(source, plan, job, intended);
}

uint64_t export_gptq(const Model& source, const ExportPlan& plan, const JobControl* job, Model* intended) {
    if (plan.target != ExportTarget::Gptq) throw Error("export", "export_gptq() needs a gptq plan");
    return export_folder(source, plan, job, intended);
}

}  // namespace qb
