#include <QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/model/model.h"
#include "core/export/export_plan.h"
#include "core/io/gguf_reader.h"
#include "core/plan/plan_export.h"
#include "core/plan/presets.h"
#include "core/plan/quant_plan.h"
#include "core/plan/resolved_plan.h"
#include "core/util/error.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "tests/support/error_text.h"

using namespace qb;
using nlohmann::json;
using qbtest::run_cli;

namespace {

using qbtest::stories260k_model;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

QuantPlan plan_with(const std::string& default_format, std::vector<std::pair<std::string, std::string>> rules = {}) {
    QuantPlan plan = uniform_plan(default_format);
    for (auto& [match, format] : rules) plan.rules.push_back({match, {format, std::nullopt, std::nullopt}, ""});
    return plan;
}

json plan_document(json extra) {
    json doc = {{"schema", "quantbench.plan"}, {"version", 1}, {"default", {{"format", "q8_0"}}}};
    doc.update(extra);
    return doc;
}

std::filesystem::path write_text(const std::string& name, const std::string& text) {
    const auto path = qbtest::scratch_dir() / name;
    std::ofstream(path) << text;
    return path;
}

}  // namespace

class QuantPlanTest : public QObject {
    Q_OBJECT
private slots:
    void keeps_norms_in_f32_and_quantizes_the_matrices_for_gguf() {
        QuantPlan plan = plan_with("q8_0");
        plan.fallback = true;
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Gguf);
        QCOMPARE(r.tensors.size(), size_t(48));
        const TensorAssignment& norm = *r.find("blk.0.attn_norm");
        QVERIFY(norm.keep);
        QCOMPARE(norm.format->name, std::string("f32"));
        QCOMPARE(norm.bytes, uint64_t(64 * 4));
        QCOMPARE(norm.reason(), std::string("kept: 1-D tensor, stored f32 as llama.cpp does"));
        const TensorAssignment& q = *r.find("blk.0.attn_q");
        QCOMPARE(q.format->name, std::string("q8_0"));
        QCOMPARE(q.algorithm, std::string("rtn"));
        QCOMPARE(q.bytes, uint64_t(64 * 2 * 34));
        QCOMPARE(q.bits_per_weight(), 8.5);
        QCOMPARE(q.reason(), std::string("default"));
    }

    void falls_back_to_f16_when_no_block_fits_the_row_and_says_why() {
        QuantPlan plan = plan_with("q8_0");
        plan.fallback = true;
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Gguf);
        const TensorAssignment& down = *r.find("blk.3.ffn_down");
        QCOMPARE(down.format->name, std::string("f16"));
        QCOMPARE(down.bytes, uint64_t(64 * 172 * 2));
        QVERIFY(down.algorithm.empty());
        QCOMPARE(down.reason(),
                 std::string("default: fallback from q8_0: row length 172 is not a multiple of q8_0's block of 32"));
    }

    void follows_llama_cpp_fallback_table() {
        const TensorView& rows_of_64 = stories260k_model().tensor("blk.0.attn_q");
        const TensorView& rows_of_172 = stories260k_model().tensor("blk.0.ffn_down");
        auto fallback = [](const char* format, const TensorView& t) {
            return fallback_format(format_by_name(format), t, PlanTarget::Gguf).name;
        };
        QCOMPARE(fallback("q4_k", rows_of_64), std::string("q5_0"));
        QCOMPARE(fallback("q5_k", rows_of_64), std::string("q5_1"));
        QCOMPARE(fallback("q6_k", rows_of_64), std::string("q8_0"));
        QCOMPARE(fallback("q2_k", rows_of_64), std::string("iq4_nl"));
        QCOMPARE(fallback("q3_k", rows_of_64), std::string("iq4_nl"));
        QCOMPARE(fallback("iq4_xs", rows_of_64), std::string("iq4_nl"));
        QCOMPARE(fallback("nf4", rows_of_64), std::string("f16"));
        QCOMPARE(fallback("q4_0", rows_of_172), std::string("f16"));
        QCOMPARE(fallback("q4_k", rows_of_172), std::string("f16"));  // q5_0 does not fit either
    }

    void rejects_a_block_that_does_not_divide_the_row_naming_the_tensor() {
        const std::string message = error_message([] { resolve_plan(plan_with("q8_0"), stories260k_model(), PlanTarget::Gguf); });
        QCOMPARE(message, std::string("blk.0.ffn_down: q8_0 (default) is not possible: row length 172 is not a multiple "
                                      "of q8_0's block of 32 (allow fallback to use the fallback table)"));
    }

    void rejects_a_group_size_that_does_not_divide_the_row() {
        const std::string message =
            error_message([] { resolve_plan(plan_with("int4_g128_asym"), stories260k_model(), PlanTarget::Analysis); });
        QVERIFY2(message.starts_with("token_embd: int4_g128_asym (default) is not possible: row length 64 is not a "
                                     "multiple of int4_g128_asym's block of 128"),
                 message.c_str());
    }

    void rejects_formats_the_target_cannot_store() {
        std::string message = error_message([] {
            resolve_plan(plan_with("q8_0", {{"attn_q", "nf4"}}), stories260k_model(), PlanTarget::Gguf);
        });
        QCOMPARE(message, std::string("blk.0.attn_q: nf4 (rule 1) is not possible: nf4 has no GGUF tensor type (allow "
                                      "fallback to use the fallback table)"));
        message = error_message([] { resolve_plan(plan_with("q4_k"), stories260k_model(), PlanTarget::Gptq); });
        QVERIFY2(message.starts_with("blk.0.attn_q: q4_k (default) is not possible: row length 64"), message.c_str());
        message = error_message([] { resolve_plan(plan_with("q8_0"), stories260k_model(), PlanTarget::Gptq); });
        QVERIFY2(contains(message, "q8_0 is not an integer grid (GPTQ stores linear layers as integer grids or unquantized)"),
                 message.c_str());
        message = error_message([] { resolve_plan(plan_with("int8_pt_sym"), stories260k_model(), PlanTarget::Gptq); });
        QVERIFY2(contains(message, "GPTQ has no per-tensor scale (int8_pt_sym)"), message.c_str());
        message = error_message([] { resolve_plan(plan_with("i8"), stories260k_model(), PlanTarget::Analysis); });
        QVERIFY2(contains(message, "i8 can be read but not produced"), message.c_str());
    }

    void rejects_an_algorithm_that_cannot_produce_the_format_or_falls_back_to_rtn() {
        QuantPlan plan = plan_with("q5_0", {{"attn_v", "iq4_nl"}});
        plan.defaults.algorithm = "gptq";
        plan.defaults.options = {{"damp", 0.02}};
        const std::string message = error_message([&] { resolve_plan(plan, stories260k_model(), PlanTarget::Gguf, {.fallback = false}); });
        QVERIFY2(message.starts_with("blk.0.attn_v: gptq cannot produce iq4_nl: gptq chooses codes on integer grids"),
                 message.c_str());
        plan.overrides["blk.0.ffn_down"].format = "f16";
        plan.fallback = true;
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Gguf);
        QCOMPARE(r.find("blk.0.attn_q")->algorithm, std::string("gptq"));
        QCOMPARE(r.find("blk.0.attn_q")->options, json({{"damp", 0.02}}));
        const TensorAssignment& v = *r.find("blk.0.attn_v");
        QCOMPARE(v.algorithm, std::string("rtn"));
        QCOMPARE(v.options, json::object());
        QVERIFY2(v.reason().starts_with("rule 1; rtn instead of gptq: gptq chooses codes on integer grids"), v.reason().c_str());
        QVERIFY(r.find("blk.1.ffn_down")->algorithm.empty());  // f16 by fallback: no algorithm
    }

    void gptq_quantizes_only_the_blocks_and_any_target_takes_its_grids() {
        const ResolvedPlan r = resolve_plan(plan_with("int4_g32_asym"), stories260k_model(), PlanTarget::Gptq, {.fallback = true});
        QCOMPARE(r.find("blk.4.attn_q")->format->name, std::string("int4_g32_asym"));
        QVERIFY2(r.find("blk.4.ffn_up")->reason().ends_with(
                     "fallback from int4_g32_asym: the output dimension 172 does not fill whole int32 words of 4-bit "
                     "zero points (qzeros)"),
                 r.find("blk.4.ffn_up")->reason().c_str());
        QVERIFY(r.find("token_embd")->keep);
        QCOMPARE(r.find("token_embd")->reason(), std::string("kept: GPTQ checkpoints quantize only the blocks' linear layers"));
        QCOMPARE(r.find("token_embd")->format->name, std::string("f16"));
        const ResolvedPlan fake = resolve_plan(plan_with("nf4"), stories260k_model(), PlanTarget::SafetensorsFake, {.fallback = true});
        QCOMPARE(fake.find("token_embd")->format->name, std::string("nf4"));
    }

    void later_rules_override_earlier_ones_and_overrides_win() {
        QuantPlan plan = plan_with("int8_pc_sym", {{"attn_", "int4_pc_sym"}, {"attn_v", "int3_pc_sym"}});
        plan.rules[1].note = "values are sensitive";
        plan.overrides["blk.0.attn_v"].format = "int2_pc_sym";
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Analysis);
        QCOMPARE(r.find("blk.1.ffn_up")->format->name, std::string("int8_pc_sym"));
        QCOMPARE(r.find("blk.1.attn_q")->format->name, std::string("int4_pc_sym"));
        QCOMPARE(r.find("blk.1.attn_q")->reason(), std::string("rule 1"));
        QCOMPARE(r.find("blk.1.attn_v")->format->name, std::string("int3_pc_sym"));
        QCOMPARE(r.find("blk.1.attn_v")->reason(), std::string("rule 2 (values are sensitive)"));
        QCOMPARE(r.find("blk.0.attn_v")->format->name, std::string("int2_pc_sym"));
        QCOMPARE(r.find("blk.0.attn_v")->reason(), std::string("override"));
    }

    void options_belong_to_their_algorithm() {
        QuantPlan plan = plan_with("int4_pc_asym");
        plan.defaults.algorithm = "gptq";
        plan.defaults.options = {{"damp", 0.01}};
        plan.rules.push_back({"ffn_", {std::nullopt, std::nullopt, json{{"act_order", true}}}, ""});
        plan.rules.push_back({"ffn_up", {std::nullopt, "hqq", std::nullopt}, ""});
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Analysis);
        QCOMPARE(r.find("blk.0.attn_q")->options, json({{"damp", 0.01}}));
        QCOMPARE(r.find("blk.0.ffn_gate")->options, json({{"damp", 0.01}, {"act_order", true}}));
        QCOMPARE(r.find("blk.0.ffn_up")->algorithm, std::string("hqq"));
        QCOMPARE(r.find("blk.0.ffn_up")->options, json::object());
    }

    void keep_stores_the_source_type() {
        const Model f16 = load_model(qbtest::data_path("models/stories260K/gguf/stories260K-f16.gguf"));
        const QuantPlan plan = plan_with("q8_0", {{"^token_embd$", "keep"}, {"ffn_down", "keep"}});
        const ResolvedPlan r = resolve_plan(plan, f16, PlanTarget::Gguf);
        QVERIFY(r.find("token_embd")->keep);
        QCOMPARE(r.find("token_embd")->format->name, std::string("f16"));
        QCOMPARE(r.find("token_embd")->reason(), std::string("rule 1: keep"));
        QCOMPARE(r.find("blk.0.attn_norm")->format->name, std::string("f32"));
        QCOMPARE(resolve_plan(plan, stories260k_model(), PlanTarget::Gguf).find("token_embd")->format->name, std::string("f32"));
    }

    void budget_is_the_sum_of_exact_tensor_bytes() {
        const QuantPlan plan = plan_with("q8_0", {{"ffn_down", "f16"}});
        const ResolvedPlan r = resolve_plan(plan, stories260k_model(), PlanTarget::Gguf);
        // 32 q8_0 matrices, 5 f16 ffn_down, 11 f32 norms; the tied output counted as its own tensor.
        const uint64_t q8 = 2 * 34816 + 5 * (4352 + 2176 + 2176 + 4352 + 11696 + 11696);
        const uint64_t expected = q8 + 5 * 22016 + 11 * 256;
        QCOMPARE(r.total_bytes(), expected);
        QCOMPARE(r.quantized_bytes(), q8);
        QCOMPARE(r.parameters(), int64_t(260032 + 32768));
        QCOMPARE(r.bits_per_weight(), 8.0 * double(expected) / double(260032 + 32768));
    }

    void knows_the_exact_size_of_the_gguf_file_export_writes() {
        for (const char* form : {"gguf", "hf"}) {
            const Model model = load_model(qbtest::stories260k(form));
            const ResolvedPlan r = resolve_plan(preset_plan("q4_k_m", model), model, PlanTarget::Gguf);
            const GgufFileSize size = gguf_file_size(r, model);
            QCOMPARE(size.tensor_bytes, r.total_bytes());
            const auto path = qbtest::scratch_dir() / (std::string("q4_k_m-from-") + form + ".gguf");
            QCOMPARE(export_model(model, export_plan_of(r, path)), size.file_bytes);
            QCOMPARE(uint64_t(std::filesystem::file_size(path)), size.file_bytes);
            const GgufFile written(path);
            QCOMPARE(written.data_offset(), size.data_offset);
            for (const auto& t : written.tensors()) {
                const std::string canonical = t.name.substr(0, t.name.size() - std::string(".weight").size());
                QCOMPARE(t.format, r.find(canonical)->format);
            }
        }
    }

    void every_export_target_writes_what_its_plan_resolved() {
        const Model hf = load_model(qbtest::stories260k("hf"));
        const std::pair<PlanTarget, const char*> cases[] = {{PlanTarget::SafetensorsFake, "nf4"}, {PlanTarget::Gptq, "int4_pc_asym"}};
        for (const auto& [target, format] : cases) {
            const ResolvedPlan r = resolve_plan(plan_with(format), hf, target, {.fallback = true});
            const auto folder = qbtest::scratch_dir() / ("export-" + std::string(plan_target_name(target)));
            QVERIFY(export_model(hf, export_plan_of(r, folder)) > 0);
        }
        QCOMPARE(error_message([&] { export_plan_of(resolve_plan(plan_with("nf4"), hf, PlanTarget::Analysis, {.fallback = true}), "x"); }),
                 std::string("target: the analysis target has no exporter (use gguf, safetensors-fake or gptq)"));
    }

    void rejects_an_override_of_a_missing_tensor_and_quantized_norms() {
        QuantPlan plan = plan_with("q8_0");
        plan.fallback = true;
        plan.overrides["blk.9.attn_q"].format = "q4_0";
        QVERIFY(contains(error_message([&] { resolve_plan(plan, stories260k_model(), PlanTarget::Gguf); }),
                         "plan override: no tensor named 'blk.9.attn_q'"));
        plan.overrides.clear();
        plan.fallback = false;
        plan.overrides["blk.0.ffn_norm"].format = "q8_0";
        QCOMPARE(error_message([&] { resolve_plan(plan, stories260k_model(), PlanTarget::Analysis); }),
                 std::string("blk.0.ffn_norm: cannot be quantized for analysis: 1-D tensor"));
    }

    void rejects_unknown_formats_algorithms_and_bad_regexes() {
        QVERIFY(error_message([] { validate_plan(plan_with("q8_0", {{"attn(", "q4_0"}})); })
                    .starts_with("plan rule 1: bad regular expression 'attn(': "));
        QVERIFY(contains(error_message([] { validate_plan(plan_with("q9_k")); }), "plan default: unknown format 'q9_k'"));
        QuantPlan plan = plan_with("q8_0");
        plan.defaults.algorithm = "magic";
        QCOMPARE(error_message([&] { validate_plan(plan); }),
                 std::string("plan default: unknown algorithm 'magic' (known: rtn, imatrix, gptq, awq, hqq)"));
        QCOMPARE(error_message([] { parse_rule_text("attn_v"); }), std::string("rule: 'attn_v' is not REGEX=FORMAT"));
        QCOMPARE(*parse_rule_text("blk\\.[0-3]\\.attn_v=Q6_K").choice.format, std::string("q6_k"));
    }

    void json_round_trip_is_exact() {
        QuantPlan plan = plan_with("int4_g32_asym", {{"attn_v", "q8_0"}, {"^output$", "keep"}});
        plan.name = "mixed";
        plan.description = "a sample";
        plan.fallback = true;
        plan.defaults.algorithm = "gptq";
        plan.defaults.options = {{"damp", 0.01}, {"act_order", true}, {"block", 128}};
        plan.rules[0].note = "values";
        plan.rules.push_back({"ffn_down", {std::nullopt, "awq", json{{"grid", 20}}}, ""});
        plan.overrides["blk.0.attn_q"] = {"q4_0", "rtn", json{{"clip", 0.9}}};
        const json doc = plan_to_json(plan);
        QCOMPARE(plan_from_json(doc), plan);
        QCOMPARE(plan_to_json(plan_from_json(doc)).dump(), doc.dump());
        const auto path = qbtest::scratch_dir() / "round-trip.json";
        save_plan(plan, path);
        QCOMPARE(load_plan(path), plan);
        QCOMPARE(plan_from_json(json::parse(doc.dump())), plan);
    }

    void rejects_unknown_keys_and_foreign_documents_with_a_message() {
        QCOMPARE(error_message([] { plan_from_json(plan_document({{"colour", 1}})); }),
                 std::string("plan: unknown key 'colour' (allowed: schema, version, name, description, fallback, default, "
                             "rules, overrides)"));
        QCOMPARE(error_message([] { plan_from_json(plan_document({{"rules", {{{"match", "x"}, {"formt", "q4_0"}}}}})); }),
                 std::string("plan rule 1: unknown key 'formt' (allowed: match, format, algorithm, options, note)"));
        QCOMPARE(error_message([] { plan_from_json(plan_document({{"rules", {{{"match", "x"}}}}})); }),
                 std::string("plan rule 1: sets none of format, algorithm, options"));
        QCOMPARE(error_message([] { plan_from_json(plan_document({{"version", 2}})); }),
                 std::string("plan: plan version 2 is not supported (this build reads version 1)"));
        QCOMPARE(error_message([] { plan_from_json(json{{"default", {{"format", "q8_0"}}}}); }),
                 std::string("plan: not a Quantbench plan (\"schema\" must be \"quantbench.plan\")"));
        QCOMPARE(error_message([] { plan_from_json(plan_document({{"overrides", {{"blk.0.attn_q", {{"options", 3}}}}}})); }),
                 std::string("plan override of blk.0.attn_q: options must be a JSON object, got 3"));
        const auto path = write_text("bad.json", "{\"schema\": \"quantbench.plan\", \"version\": 1, \"default\": {}}");
        QCOMPARE(error_message([&] { load_plan(path); }), path.string() + " default: needs a format");
    }

    void sample_plans_load_and_resolve_for_stories260k() {
        const QDir dir(QFINDTESTDATA("../resources/plans"));
        const QStringList files = dir.entryList({"*.json"}, QDir::Files);
        QVERIFY(files.size() >= 3);
        for (const QString& file : files) {
            const QuantPlan plan = load_plan(dir.filePath(file).toStdString());
            const PlanTarget target = plan_target_by_name(file.section('_', 0, 0).toStdString());  // named <target>_*.json
            const ResolvedPlan r = resolve_plan(plan, stories260k_model(), target, {.fallback = true});
            qInfo("%s: %llu bytes, %.3f bpw", qPrintable(file), (unsigned long long)r.total_bytes(), r.bits_per_weight());
        }
    }

    void cli_prints_the_table_the_totals_and_the_file_size() {
        const auto r = run_cli({"plan", qbtest::stories260k("gguf").string(), "--preset", "q4_k_m"});
        QCOMPARE(r.exit_code, 0);
        QVERIFY2(contains(r.out, "blk.2.attn_v             32x64        q8_0      rtn               2176   8.500  "
                                 "rule 1 (attn_v in use_more_bits layers): fallback from q6_k: row length 64 is not a "
                                 "multiple of q6_k's block of 256"),
                 r.out.c_str());
        QVERIFY2(contains(r.out, "total         48 tensors, 292800 parameters, 289696 bytes, 7.9152 bits per weight, 36 fallbacks"), r.out.c_str());
        QVERIFY2(contains(r.out, "gguf file     304320 bytes as `export` writes it (14464 before the tensor data)"),
                 r.out.c_str());
    }

    void cli_writes_the_plan_and_describes_it_in_json() {
        const auto out = qbtest::scratch_dir() / "cli-plan.json";
        const auto r = run_cli({"plan", qbtest::stories260k("hf").string(), "--default", "int4_g32_asym", "--rule",
                                "attn_v=int8_pc_sym,ffn_down=keep", "--target", "safetensors-fake", "--out", out.string(),
                                "--json"});
        QCOMPARE(r.exit_code, 0);
        const json doc = json::parse(r.out);
        QCOMPARE(doc["target"], json("safetensors-fake"));
        QCOMPARE(doc["tensors"][4]["name"], json("blk.0.attn_v"));
        QCOMPARE(doc["tensors"][4]["format"], json("int8_pc_sym"));
        QCOMPARE(doc["tensors"][4]["bytes"], json(32 * (64 + 2)));
        QVERIFY(!doc.contains("gguf_file"));
        const QuantPlan saved = load_plan(out);
        QCOMPARE(saved.rules.size(), size_t(2));
        QCOMPARE(plan_to_json(saved), doc["plan"]);
    }

    void cli_reads_a_plan_file_and_adds_rules_on_top() {
        const std::string plan_file = QFINDTESTDATA("../resources/plans/gguf_q8_0_keep_embeddings.json").toStdString();
        const auto r = run_cli({"plan", qbtest::stories260k("llama2c").string(), "--plan", plan_file, "--rule",
                                "ffn_down$=f16", "--json"});
        QCOMPARE(r.exit_code, 0);
        const json doc = json::parse(r.out);
        QCOMPARE(doc["tensors"][0]["format"], json("f32"));
        QCOMPARE(doc["tensors"][0]["reason"], json("rule 1 (embeddings stay as they are): keep"));
        QCOMPARE(doc["tensors"][9]["name"], json("blk.0.ffn_down"));
        QCOMPARE(doc["tensors"][9]["reason"], json("rule 2"));
        QCOMPARE(doc["totals"]["fallbacks"], json(0));
        QVERIFY(doc["gguf_file"]["bytes"].get<uint64_t>() > doc["totals"]["bytes"].get<uint64_t>());
    }

    void cli_reports_an_impossible_plan_in_one_line_naming_the_tensor() {
        const auto r = run_cli({"plan", qbtest::stories260k("llama2c").string(), "--default", "q4_0"});
        QCOMPARE(r.exit_code, 1);
        QCOMPARE(r.err, std::string("quantbench-cli plan: blk.0.ffn_down: q4_0 (default) is not possible: row length 172 "
                                    "is not a multiple of q4_0's block of 32 (allow fallback to use the fallback table)\n"));
        const auto usage = run_cli({"plan", qbtest::stories260k("llama2c").string()});
        QCOMPARE(usage.exit_code, 2);
    }
};

QTEST_GUILESS_MAIN(QuantPlanTest)
#include "tst_quant_plan.moc"
