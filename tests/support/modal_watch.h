// For GUI tests: a modal dialog runs its own event loop, so the code that opened it does not return
// until it closes. watch_modal polls every 50 ms from that loop and hands the active modal widget, when
// it is a Dialog, to `handle` (which reads and closes it); the watch lasts as long as the returned timer.
#pragma once
#include <QApplication>
#include <QTimer>
#include <memory>

namespace qbtest {

template <typename Dialog, typename Handle>
std::unique_ptr<QTimer> watch_modal(Handle handle) {
    auto timer = std::make_unique<QTimer>();
    timer->setInterval(50);
    QObject::connect(timer.get(), &QTimer::timeout, [handle] {
        if (auto* dialog = qobject_cast<Dialog*>(QApplication::activeModalWidget())) handle(*dialog);
    });
    timer->start();
    return timer;
}

}  // namespace qbtest
