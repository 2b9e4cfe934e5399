#include "ui/runs/evaluation.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/infer/forward.h"
#include "core/infer/tokenizer.h"
#include "core/util/error.h"
#include "ui/jobs/job_phase.h"

namespace qbui {
namespace {

constexpr double kDecodeShare = 0.3;  // of the progress bar

std::string readTextFile(const QString& path) {
    std::ifstream in(path.toStdString(), std::ios::binary);
    if (!in) throw qb::Error(path.toStdString(), "cannot open the text file");
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

}  // namespace

EvaluationResult evaluatePerplexity(const qb::Model& model, const EvaluationRequest& request, const qb::JobControl& control) {
    EvaluationResult result;
    result.request = request;
    result.modelBytes = model.stored_bytes();
    result.parameters = model.parameter_count();
    const qb::EvalText text = qb::evaluation_text(qb::model_tokenizer(model), readTextFile(request.textPath));
    result.textTokens = int64_t(text.tokens.size());

    const qb::JobControl decoding = job_phase(control, 0.0, kDecodeShare);
    const qb::Transformer net(model, request.threads, &decoding);

    const qb::JobControl scoring = job_phase(control, kDecodeShare, 1.0);
    qb::EvalOptions options;
    options.ctx = request.contextLength;
    options.protocol = qb::protocol_by_name(request.protocol.toStdString());
    options.max_chunks = request.maxChunks;
    options.forward.threads = request.threads;
    options.job = &scoring;
    const auto start = std::chrono::steady_clock::now();
    result.perplexity = qb::evaluate_perplexity(net, text, options);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

QStringList evaluationCliArguments(const EvaluationRequest& request) {
    QStringList arguments{QStringLiteral("eval"), request.modelPath, QStringLiteral("--text"), request.textPath,
                          QStringLiteral("--ctx"), QString::number(request.contextLength), QStringLiteral("--protocol"),
                          request.protocol};
    if (request.maxChunks > 0) arguments << QStringLiteral("--chunks") << QString::number(request.maxChunks);
    if (request.threads > 0) arguments << QStringLiteral("--threads") << QString::number(request.threads);
    return arguments;
}

}  // namespace qbui
