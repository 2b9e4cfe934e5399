// The message of the qb::Error a call throws, or "no error", as a std::string (error_message) or a QString
// (error_of): lets tests assert exact error texts.
#pragma once
#include <QString>
#include <functional>
#include <string>

#include "core/util/error.h"

inline std::string error_message(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const qb::Error& e) {
        return e.what();
    }
    return "no error";
}

inline QString error_of(const std::function<void()>& fn) { return QString::fromStdString(error_message(fn)); }
