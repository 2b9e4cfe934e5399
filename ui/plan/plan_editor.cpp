#include "ui/plan/plan_editor.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStringListModel>
#include <QTableView>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include "core/algo/algorithm.h"
#include "core/plan/presets.h"
#include "core/util/error.h"
#include "ui/common/units.h"
#include "ui/plan/auto_assign_panel.h"
#include "ui/plan/budget_panel.h"
#include "ui/plan/choice_delegate.h"
#include "ui/plan/plan_document.h"
#include "ui/plan/plan_table_model.h"

namespace qbui {
namespace {

QString ruleText(const qb::PlanRule& rule) {
    QStringList parts{qtext(rule.match), QStringLiteral("→")};
    if (rule.choice.format) parts << qtext(*rule.choice.format);
    if (rule.choice.algorithm) parts << QStringLiteral("[%1]").arg(qtext(*rule.choice.algorithm));
    if (!rule.note.empty()) parts << QStringLiteral("(%1)").arg(qtext(rule.note));
    return parts.join(QLatin1Char(' '));
}

QToolButton* toolButton(QAction* action, QWidget* parent) {
    auto* button = new QToolButton(parent);
    button->setDefaultAction(action);
    return button;
}

}  // namespace

PlanEditor::PlanEditor(PlanDocument& document, QWidget* parent)
    : QWidget(parent), document_(document), table_(new PlanTableModel(document, this)), view_(new QTableView(this)),
      budget_(new BudgetPanel(document, this)), autoAssign_(new AutoAssignPanel(this)), rules_(new QStringListModel(this)) {
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(table_);
    proxy->setSortRole(PlanTableModel::SortRole);
    view_->setModel(proxy);
    view_->setSortingEnabled(true);
    view_->sortByColumn(PlanTableModel::TensorColumn, Qt::AscendingOrder);
    view_->setSelectionBehavior(QAbstractItemView::SelectRows);
    view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::SelectedClicked | QAbstractItemView::EditKeyPressed);
    view_->setAlternatingRowColors(true);
    view_->verticalHeader()->hide();
    view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 8);
    view_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    view_->horizontalHeader()->setStretchLastSection(true);
    auto* delegate = new ChoiceDelegate(this);
    view_->setItemDelegateForColumn(PlanTableModel::FormatColumn, delegate);
    view_->setItemDelegateForColumn(PlanTableModel::AlgorithmColumn, delegate);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(makeSelectionBar());
    leftLayout->addWidget(view_, 1);
    auto* body = new QSplitter(Qt::Horizontal, this);
    body->addWidget(left);
    body->addWidget(makeSidePanel());
    body->setStretchFactor(0, 3);
    body->setStretchFactor(1, 1);
    body->setSizes({3000, 1300});

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(makePlanBar());
    layout->addWidget(body, 1);
    connect(&document_, &PlanDocument::changed, this, &PlanEditor::refreshControls);
    refreshControls();
}

QWidget* PlanEditor::makePlanBar() {
    auto* bar = new QWidget(this);
    preset_ = new QComboBox(bar);
    preset_->addItem(tr("Preset…"));
    for (const qb::PresetInfo& p : qb::presets()) {
        preset_->addItem(qtext(std::string(p.name)));
        preset_->setItemData(preset_->count() - 1, qtext(std::string(p.description)), Qt::ToolTipRole);
    }
    connect(preset_, &QComboBox::activated, this, [this](int index) {
        if (index > 0 && document_.model())
            document_.replacePlan(qb::preset_plan(preset_->itemText(index).toStdString(), *document_.model()),
                                  tr("Preset %1").arg(preset_->itemText(index)));
        preset_->setCurrentIndex(0);
    });
    defaultFormat_ = new QComboBox(bar);
    defaultFormat_->addItem(QStringLiteral("keep"));
    for (const qb::FormatInfo* f : qb::registered_formats())
        if (f->can_encode()) defaultFormat_->addItem(qtext(f->name));
    defaultFormat_->setToolTip(tr("Format of every tensor no rule or override decides"));
    connect(defaultFormat_, &QComboBox::activated, this, [this] { document_.setDefaultFormat(defaultFormat_->currentText()); });
    target_ = new QComboBox(bar);
    for (qb::PlanTarget t : {qb::PlanTarget::Gguf, qb::PlanTarget::SafetensorsFake, qb::PlanTarget::Gptq, qb::PlanTarget::Analysis})
        target_->addItem(qtext(std::string(qb::plan_target_name(t))), int(t));
    connect(target_, &QComboBox::activated, this, [this] { document_.setTarget(qb::PlanTarget(target_->currentData().toInt())); });
    fallback_ = new QCheckBox(tr("Fallback"), bar);
    fallback_->setToolTip(tr("Replace formats the target cannot store for a tensor by llama.cpp's fallback types"));
    connect(fallback_, &QCheckBox::clicked, this, [this](bool on) { document_.setFallback(on); });

    QAction* undo = document_.undoStack()->createUndoAction(this, tr("Undo"));
    QAction* redo = document_.undoStack()->createRedoAction(this, tr("Redo"));
    auto* load = new QPushButton(tr("Load…"), bar);
    auto* save = new QPushButton(tr("Save…"), bar);
    connect(load, &QPushButton::clicked, this, &PlanEditor::loadPlan);
    connect(save, &QPushButton::clicked, this, &PlanEditor::savePlan);

    auto* layout = new QHBoxLayout(bar);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(preset_);
    layout->addWidget(new QLabel(tr("Default"), bar));
    layout->addWidget(defaultFormat_);
    layout->addWidget(new QLabel(tr("Target"), bar));
    layout->addWidget(target_);
    layout->addWidget(fallback_);
    layout->addStretch(1);
    layout->addWidget(toolButton(undo, bar));
    layout->addWidget(toolButton(redo, bar));
    layout->addWidget(load);
    layout->addWidget(save);
    return bar;
}

QWidget* PlanEditor::makeSelectionBar() {
    auto* bar = new QWidget(this);
    bulkFormat_ = new QComboBox(bar);
    bulkFormat_->addItem(QStringLiteral("keep"));
    for (const qb::FormatInfo* f : qb::registered_formats())
        if (f->can_encode()) bulkFormat_->addItem(qtext(f->name));
    bulkAlgorithm_ = new QComboBox(bar);
    for (const qb::Algorithm& a : qb::algorithms()) {
        bulkAlgorithm_->addItem(qtext(std::string(a.name)));
        bulkAlgorithm_->setItemData(bulkAlgorithm_->count() - 1, qtext(std::string(a.description)), Qt::ToolTipRole);
    }
    auto* setFormat = new QPushButton(tr("Set format"), bar);
    auto* setAlgorithm = new QPushButton(tr("Set algorithm"), bar);
    connect(setFormat, &QPushButton::clicked, this, [this] { applyToSelection(true); });
    connect(setAlgorithm, &QPushButton::clicked, this, [this] { applyToSelection(false); });
    auto* layout = new QHBoxLayout(bar);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("Selected rows:"), bar));
    layout->addWidget(bulkFormat_);
    layout->addWidget(setFormat);
    layout->addWidget(bulkAlgorithm_);
    layout->addWidget(setAlgorithm);
    layout->addStretch(1);
    return bar;
}

QWidget* PlanEditor::makeSidePanel() {
    auto* side = new QWidget(this);
    auto* budgetBox = new QGroupBox(tr("Budget"), side);
    (new QVBoxLayout(budgetBox))->addWidget(budget_);

    auto* rulesBox = new QGroupBox(tr("Rules (regex on tensor names, later rules win)"), side);
    rulesView_ = new QListView(rulesBox);
    rulesView_->setModel(rules_);
    rulesView_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    ruleText_ = new QLineEdit(rulesBox);
    ruleText_->setPlaceholderText(tr("REGEX=FORMAT, e.g. attn_v=q6_k"));
    auto* add = new QPushButton(tr("Add"), rulesBox);
    auto* remove = new QPushButton(tr("Remove"), rulesBox);
    connect(add, &QPushButton::clicked, this, &PlanEditor::addRuleFromText);
    connect(ruleText_, &QLineEdit::returnPressed, this, &PlanEditor::addRuleFromText);
    connect(remove, &QPushButton::clicked, this, [this] {
        const QModelIndex current = rulesView_->currentIndex();
        if (current.isValid()) document_.removeRule(current.row());
    });
    auto* ruleRow = new QHBoxLayout;
    ruleRow->addWidget(ruleText_, 1);
    ruleRow->addWidget(add);
    ruleRow->addWidget(remove);
    auto* rulesLayout = new QVBoxLayout(rulesBox);
    rulesLayout->addWidget(rulesView_);
    rulesLayout->addLayout(ruleRow);

    auto* autoBox = new QGroupBox(tr("Automatic assignment"), side);
    (new QVBoxLayout(autoBox))->addWidget(autoAssign_);
    connect(autoAssign_, &AutoAssignPanel::pointChosen, this, [this](const qb::QuantPlan& plan, double bpw) {
        document_.replacePlan(plan, tr("Auto-assign %1 bpw").arg(bpw, 0, 'f', 2));
    });

    auto* layout = new QVBoxLayout(side);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(budgetBox);
    layout->addWidget(rulesBox, 1);
    layout->addWidget(autoBox, 2);
    return side;
}

void PlanEditor::refreshControls() {
    const bool open = document_.hasPlan();
    setEnabled(open);
    if (!open) return;
    const PlanState& state = document_.state();
    defaultFormat_->setCurrentText(qtext(state.plan.defaults.format));
    target_->setCurrentIndex(target_->findData(int(state.target)));
    fallback_->setChecked(state.plan.fallback);
    autoAssign_->setAvailable(document_.sensitivity() != nullptr);
    QStringList rules;
    for (const qb::PlanRule& rule : state.plan.rules) rules << QStringLiteral("%1. %2").arg(rules.size() + 1).arg(ruleText(rule));
    rules_->setStringList(rules);
}

QStringList PlanEditor::selectedTensors() const {
    QStringList names;
    for (const QModelIndex& row : view_->selectionModel()->selectedRows())
        names << row.data(PlanTableModel::TensorNameRole).toString();
    return names;
}

void PlanEditor::applyToSelection(bool format) {
    const QStringList tensors = selectedTensors();
    if (tensors.isEmpty()) return;
    qb::PlanChoice choice;
    if (format) choice.format = bulkFormat_->currentText().toStdString();
    else choice.algorithm = bulkAlgorithm_->currentText().toStdString();
    document_.setTensorChoice(tensors, choice);
}

void PlanEditor::addRuleFromText() {
    try {
        if (document_.addRule(qb::parse_rule_text(ruleText_->text().trimmed().toStdString()))) ruleText_->clear();
    } catch (const qb::Error& e) {
        emit problem(qtext(e.what()));
    }
}

void PlanEditor::loadPlan() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load plan"), QString(), tr("Plans (*.json)"));
    if (path.isEmpty()) return;
    try {
        document_.load(path);
    } catch (const qb::Error& e) {
        emit problem(qtext(e.what()));
    }
}

void PlanEditor::savePlan() {
    const QString suggested = qtext(document_.state().plan.name.empty() ? std::string("plan") : document_.state().plan.name) + ".json";
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plan"), suggested, tr("Plans (*.json)"));
    if (path.isEmpty()) return;
    try {
        document_.save(path);
        emit saved(path);
    } catch (const qb::Error& e) {
        emit problem(qtext(e.what()));
    }
}

}  // namespace qbui
