// Errors carry the file (or object) they concern and the problem, so every message reads "what: why".
#pragma once
#include <stdexcept>
#include <string>

namespace qb {

class Error : public std::runtime_error {
public:
    Error(const std::string& subject, const std::string& problem)
        : std::runtime_error(subject.empty() ? problem : subject + ": " + problem),
          subject_(subject), problem_(problem) {}
    const std::string& subject() const { return subject_; }
    const std::string& problem() const { return problem_; }

private:
    std::string subject_;
    std::string problem_;
};

// Thrown by JobControl::check() when the user cancelled a long operation.
class Cancelled : public Error {
public:
    explicit Cancelled(const std::string& what) : Error(what, "cancelled") {}
};

}  // namespace qb
