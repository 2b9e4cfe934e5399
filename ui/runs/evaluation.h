// Perplexity evaluation of the open model on a text file, as `quantbench-cli eval` does it: tokenize
// the whole text (CRLF -> LF), decode the weights into a Transformer (first ~30 % of the progress),
// score the chunks with the chosen protocol.
#pragma once
#include <QString>
#include <QStringList>

#include "core/infer/perplexity.h"
#include "core/jobs/job.h"
#include "core/model/model.h"

namespace qbui {

struct EvaluationRequest {
    QString modelPath;
    QString textPath;
    QString protocol = QStringLiteral("llama.cpp");  // or "paper"
    int contextLength = 512;
    int maxChunks = 0;  // 0: the whole text
    int threads = 0;    // 0: all hardware threads
};

struct EvaluationResult {
    EvaluationRequest request;
    qb::PerplexityResult perplexity;
    int64_t textTokens = 0;
    uint64_t modelBytes = 0;  // stored bytes of the evaluated model
    int64_t parameters = 0;
    double seconds = 0;  // scoring time, without decoding the weights (as the CLI reports it)
};

// Throws qb::Error for an unreadable text, a model without tokenizer, too short a text, a bad ctx;
// qb::Cancelled when cancelled.
EvaluationResult evaluatePerplexity(const qb::Model& model, const EvaluationRequest& request, const qb::JobControl& control);
QStringList evaluationCliArguments(const EvaluationRequest& request);

}  // namespace qbui
