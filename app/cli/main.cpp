// quantbench-cli: every workbench action as a scriptable command.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli/commands.h"
#include "core/util/error.h"

namespace {

struct Command {
    std::string_view name;
    std::string_view usage;
    int (*run)(const qbcli::CommandArgs&);
};

constexpr Command kCommands[] = {
    {"inspect", "inspect MODEL [--json]                 architecture, hyper-parameters, tensor table", qbcli::run_inspect},
    {"stats",
     "stats MODEL [--tensor REGEX] [--format F,...] [--bins N] [--range LO,HI] [--heatmap HxW] [--threads N] [--json]\n"
     "      [--probe F [--row R] [--group G] [--error-bins N]] [--cell ROW,COL [--calib FILE.qbh5]]\n"
     "                                               statistics, histograms, outlier channels, per-format errors;\n"
     "                                               a format's grid levels and error histogram; an outlier-map cell's values",
     qbcli::run_stats},
    {"eval",
     "eval MODEL --text FILE [--ctx 512] [--protocol llama.cpp|paper] [--chunks N] [--threads N] [--base MODEL --kld] [--device cpu|vulkan|auto] [--json]\n"
     "                                               perplexity (llama.cpp or paper protocol), KL divergence from a base",
     qbcli::run_eval},
    {"tokenize", "tokenize MODEL --text FILE [--json]    the token ids eval scores for the text (leading BOS included)",
     qbcli::run_tokenize},
    {"plan",
     "plan MODEL (--preset NAME | --plan FILE.json | --default FORMAT | --rule REGEX=FORMAT[,...]) [--target T] [--fallback]\n"
     "     [--sensitivity FILE.qbh5 --target-bpw B [--metric M]] [--out PLAN.json] [--json]\n"
     "                                               per-tensor formats, bytes and bits per weight of a plan before it runs;\n"
     "                                               with --sensitivity, the exact allocation for B bpw over the file's table;\n"
     "                                               T: gguf (default), safetensors-fake, gptq, analysis",
     qbcli::run_plan},
    {"export",
     "export MODEL --to gguf|safetensors|gptq --out PATH [--format F] [--fallback F] [--dtype f16|bf16|f32] [--name N]\n"
     "       [--threads N] [--validate] [--json]   one round-to-nearest format for every matrix, written atomically;\n"
     "                                               --validate re-reads the output and compares tensors and logits",
     qbcli::run_export},
    {"quantize", "quantize MODEL (--plan F.json | --preset P | --target-bpw B | --max-file-bytes N) --out FILE [--to gguf|safetensors|gptq]\n             [--candidates F,...] [--loss hessian|kld] [--base-format F] [--calib TEXT] [--algo A] [--eval TEXT [--ctx N] [--protocol P] [--kld]] [--device cpu|vulkan|auto]\n             [--save-run R.json] [--json]\n                                               plan -> algorithms -> validated file -> ppl / KLD of the reloaded file", qbcli::run_quantize},
    {"compare", "compare MODEL (--plans A.json B.json ... | --presets q4_k_m,q8_0,...) --text FILE [--out-dir DIR] [--device cpu|vulkan|auto] [--format md|csv|latex|json]\n                                               quantize and evaluate each configuration, print the comparison table", qbcli::run_compare},
    {"report", "report RUN.json ... [--format md|csv|latex|json] [--out FILE] [--analysis FILE.qbh5] [--plot-pareto|--plot-layers|--plot-errors F.png|.pdf|.svg]\n                                               render saved runs with provenance", qbcli::run_report},
    {"calibrate", "calibrate MODEL --text FILE [--tokens N] [--ctx N] [--out FILE.qbh5] [--full-hessian] [--threads N] [--json]\n                                               activation statistics and Hessians of every linear-layer input", qbcli::run_calibrate},
    {"sensitivity", "sensitivity MODEL --calib FILE.qbh5 --text EVALFILE [--formats F,...] [--eval-chunks N] [--out FILE.qbh5] [--json]\n                                               per tensor and format: Hessian estimates, measured delta ppl / KLD, Spearman rho", qbcli::run_sensitivity},
    {"formats", "formats [--json]                       the registered number formats", qbcli::run_formats},
    {"devices", "devices [--json]                       Vulkan devices, their limits, and where computation runs", qbcli::run_devices},
};

void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: quantbench-cli <command> [options]\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(out, "  %.*s\n", int(c.usage.size()), c.usage.data());
    std::fprintf(out, "\nMODEL: a .gguf file, a llama2.c .bin, a .safetensors file, a model.safetensors.index.json\n"
                      "or a Hugging Face folder (config.json + safetensors).\n");
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> all(argv + 1, argv + argc);
    if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
        print_usage(all.empty() ? stderr : stdout);
        return all.empty() ? 2 : 0;
    }
    if (all[0] == "--version") {
        std::printf("quantbench-cli %s\n", QB_VERSION);
        return 0;
    }
    for (const auto& c : kCommands) {
        if (c.name != all[0]) continue;
        try {
            return c.run({all.begin() + 1, all.end()});
        } catch (const qb::Cancelled& e) {
            std::fprintf(stderr, "quantbench-cli %s: %s\n", all[0].c_str(), e.what());
            return 130;
        } catch (const qb::Error& e) {
            std::fprintf(stderr, "quantbench-cli %s: %s\n", all[0].c_str(), e.what());
            return e.subject() == "usage" ? 2 : 1;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "quantbench-cli %s: internal error: %s\n", all[0].c_str(), e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "quantbench-cli: unknown command '%s'\n\n", all[0].c_str());
    print_usage(stderr);
    return 2;
}
