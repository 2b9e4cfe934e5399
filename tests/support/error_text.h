// The message of the qb::Error a call throws, or "no error": lets tests assert exact error texts.
#pragma once
#include <QString>
#include <functional>

#include "core/util/error.h"

inline QString error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const qb::Error& e) {
        return QString::fromStdString(e.what());
    }
    return "no error";
}
