// The plan editor on stories260K: it starts from llama.cpp's q4_k_m preset as core resolves it, a
// format cell edited through its delegate changes the budget by exactly the bytes core's format table
// gives, undo/redo restore it, a format the target cannot store is refused with core's reason, bulk
// edits and rules apply in one undoable step, and a saved plan reads back in the CLI with the same size.
#include <QtTest>

#include <QComboBox>
#include <QTableView>
#include <QUndoStack>
#include <nlohmann/json.hpp>

#include "core/plan/plan_export.h"
#include "core/plan/presets.h"
#include "core/plan/resolved_plan.h"
#include "tests/support/run_process.h"
#include "tests/support/test_data.h"
#include "ui/plan/budget_panel.h"
#include "ui/plan/plan_document.h"
#include "ui/plan/plan_editor.h"
#include "ui/plan/plan_table_model.h"

using namespace qbui;

namespace {

uint64_t bytesOf(const std::string& format, const qb::TensorView& view) {
    return qb::format_by_name(format).tensor_bytes(view.rows(), view.cols());
}

}  // namespace

class PlanEditorTest : public QObject {
    Q_OBJECT

    ModelPtr model_;
    std::unique_ptr<PlanDocument> document_;
    std::unique_ptr<PlanEditor> editor_;

    QModelIndex viewIndex(const QString& tensor, int column) const {
        QAbstractItemModel* shown = editor_->tableView()->model();
        for (int row = 0; row < shown->rowCount(); ++row)
            if (shown->index(row, 0).data(PlanTableModel::TensorNameRole).toString() == tensor) return shown->index(row, column);
        return {};
    }

    const qb::TensorAssignment& assignment(const std::string& tensor) const { return *document_->resolved().find(tensor); }

    // Picks `choice` in the cell's combo box editor, as a user would.
    void pickInCell(const QModelIndex& index, const QString& choice) {
        QTableView* view = editor_->tableView();
        view->setCurrentIndex(index);
        view->edit(index);
        auto* combo = view->viewport()->findChild<QComboBox*>();
        QVERIFY(combo);
        const int item = combo->findText(choice);
        QVERIFY2(item >= 0, qPrintable(choice + " is not offered"));
        combo->setCurrentIndex(item);
        emit combo->activated(item);
    }

private slots:
    void initTestCase() {
        model_ = std::make_shared<const qb::Model>(qb::load_model(qbtest::stories260k("gguf")));
        document_ = std::make_unique<PlanDocument>();
        editor_ = std::make_unique<PlanEditor>(*document_);
        editor_->resize(1400, 800);
        editor_->show();
        document_->setModel(model_);
    }

    void starts_from_the_q4_k_m_preset_as_core_resolves_it() {
        const qb::ResolvedPlan expected = qb::resolve_plan(qb::preset_plan("q4_k_m", *model_), *model_, qb::PlanTarget::Gguf);
        QCOMPARE(document_->resolved().total_bytes(), expected.total_bytes());
        QCOMPARE(editor_->budget()->totalBytes(), expected.total_bytes());
        QCOMPARE(editor_->tableModel()->rowCount(), int(expected.tensors.size()));
        QVERIFY(editor_->budget()->text().contains(QString::number(expected.bits_per_weight(), 'f', 4)));
        const uint64_t file = qb::gguf_file_size(expected, *model_).file_bytes;
        QVERIFY(editor_->budget()->text().contains(QLocale(QLocale::English).toString(qulonglong(file))));
    }

    void editing_a_format_cell_changes_the_budget_by_the_exact_bytes() {
        const qb::TensorView& view = model_->tensor("blk.0.attn_q");
        const std::string before = assignment("blk.0.attn_q").format->name;
        const uint64_t totalBefore = editor_->budget()->totalBytes();
        pickInCell(viewIndex("blk.0.attn_q", PlanTableModel::FormatColumn), "q8_0");
        QCOMPARE(assignment("blk.0.attn_q").format->name, std::string("q8_0"));
        const int64_t expectedChange = int64_t(bytesOf("q8_0", view)) - int64_t(bytesOf(before, view));
        QCOMPARE(editor_->budget()->lastChangeBytes(), expectedChange);
        QCOMPARE(int64_t(editor_->budget()->totalBytes()) - int64_t(totalBefore), expectedChange);
        QCOMPARE(viewIndex("blk.0.attn_q", PlanTableModel::BytesColumn).data(PlanTableModel::SortRole).toULongLong(),
                 qulonglong(bytesOf("q8_0", view)));

        document_->undoStack()->undo();
        QCOMPARE(editor_->budget()->totalBytes(), totalBefore);
        QCOMPARE(assignment("blk.0.attn_q").format->name, before);
        document_->undoStack()->redo();
        QCOMPARE(int64_t(editor_->budget()->totalBytes()) - int64_t(totalBefore), expectedChange);
    }

    void offers_only_formats_the_target_can_store_and_refuses_others_with_cores_reason() {
        const QStringList offered = viewIndex("blk.0.ffn_down", PlanTableModel::FormatColumn).data(PlanTableModel::ChoicesRole).toStringList();
        QVERIFY(offered.contains("keep") && offered.contains("f16"));
        QVERIFY(!offered.contains("q4_0") && !offered.contains("iq4_nl"));  // rows of 172 fit no 32-value block
        QVERIFY(!offered.contains("int4_pc_sym"));                         // GGUF has no integer grids

        QVERIFY(document_->replacePlan(qb::uniform_plan("f16"), "uniform f16"));  // no fallback
        QSignalSpy rejected(document_.get(), &PlanDocument::editRejected);
        const uint64_t total = editor_->budget()->totalBytes();
        const auto row = int(document_->resolved().find("blk.0.ffn_down") - document_->resolved().tensors.data());
        QVERIFY(!editor_->tableModel()->setData(editor_->tableModel()->index(row, PlanTableModel::FormatColumn), "q4_0"));
        QCOMPARE(rejected.count(), 1);
        QVERIFY2(rejected.at(0).at(0).toString().contains("172"), qPrintable(rejected.at(0).at(0).toString()));
        QCOMPARE(editor_->budget()->totalBytes(), total);
        document_->undoStack()->undo();  // back to the edited preset
        QCOMPARE(assignment("blk.0.attn_q").format->name, std::string("q8_0"));
    }

    void bulk_edits_and_rules_are_single_undoable_steps() {
        QTableView* view = editor_->tableView();
        view->clearSelection();
        for (int layer = 0; layer < 5; ++layer)
            view->selectionModel()->select(viewIndex(QString("blk.%1.attn_k").arg(layer), 0),
                                           QItemSelectionModel::Select | QItemSelectionModel::Rows);
        QCOMPARE(editor_->selectedTensors().size(), 5);
        const int steps = document_->undoStack()->index();
        QVERIFY(document_->setTensorChoice(editor_->selectedTensors(), {std::string("q4_1"), std::nullopt, std::nullopt}));
        QCOMPARE(document_->undoStack()->index(), steps + 1);
        for (int layer = 0; layer < 5; ++layer)
            QCOMPARE(assignment("blk." + std::to_string(layer) + ".attn_k").format->name, std::string("q4_1"));

        QVERIFY(document_->addRule(qb::parse_rule_text("attn_output=q8_0")));
        QCOMPARE(assignment("blk.3.attn_output").format->name, std::string("q8_0"));
        QCOMPARE(int(assignment("blk.3.attn_output").origin), int(qb::DecisionOrigin::Rule));
        document_->undoStack()->undo();
        QVERIFY(assignment("blk.3.attn_output").format->name != "q8_0");
        document_->undoStack()->redo();
    }

    void a_saved_plan_has_the_same_size_in_the_cli() {
        const QString path = QString::fromStdString((qbtest::scratch_dir() / "edited.plan.json").string());
        document_->save(path);
        const qbtest::ProcessResult cli =
            qbtest::run_cli({"plan", qbtest::stories260k("gguf").string(), "--plan", path.toStdString(), "--target", "gguf", "--json"});
        QCOMPARE(cli.exit_code, 0);
        const nlohmann::json summary = nlohmann::json::parse(cli.out);
        QCOMPARE(summary["totals"]["bytes"].get<uint64_t>(), editor_->budget()->totalBytes());

        const uint64_t total = editor_->budget()->totalBytes();
        document_->replacePlan(qb::uniform_plan("q8_0"), "uniform");
        document_->load(path);
        QCOMPARE(editor_->budget()->totalBytes(), total);
    }
};

QTEST_MAIN(PlanEditorTest)
#include "tst_gui_plan_editor.moc"
