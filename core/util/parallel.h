// Splits [0, n) into contiguous ranges and runs fn(begin, end) on up to `threads` std::threads.
// threads <= 0 means all hardware threads. Exceptions from workers are rethrown in the caller.
#pragma once
#include <cstdint>
#include <functional>

namespace qb {

int hardware_threads();
void parallel_for(int64_t n, int threads, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace qb
