#include "core/infer/sentencepiece_trie.h"

#include <algorithm>

namespace qb {
namespace {

constexpr size_t kAlphabet = 256;

// Free units, found in near-constant time: next_[p] == p while p is free, else it leads to a higher unit
// (units are only ever taken, never given back, so path compression stays valid).
class FreeUnits {
public:
    size_t first_free_from(size_t p) {
        grow_to(p + 1);
        size_t root = p;
        while (next_[root] != root) {
            root = next_[root];
            grow_to(root + 1);
        }
        while (next_[p] != root) p = std::exchange(next_[p], root);
        return root;
    }
    bool is_free(size_t p) {
        grow_to(p + 1);
        return next_[p] == p;
    }
    void take(size_t p) {
        grow_to(p + 2);
        next_[p] = p + 1;
    }
    size_t size() const { return next_.size(); }

private:
    void grow_to(size_t size) {
        for (size_t p = next_.size(); p < size; ++p) next_.push_back(p);
    }
    std::vector<size_t> next_;
};

struct Pending {
    uint32_t unit;
    size_t first, last;  // range of sorted keys below this unit
    size_t depth;        // bytes of the keys already consumed
};

}  // namespace

PieceTrie::PieceTrie() : units_(1 + kAlphabet) { units_[0].base = 1; }

PieceTrie::PieceTrie(const std::vector<std::pair<std::string_view, int32_t>>& input) {
    std::vector<std::pair<std::string_view, int32_t>> keys;
    keys.reserve(input.size());
    for (const auto& key : input)
        if (!key.first.empty() && key.second >= 0) keys.push_back(key);
    std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    keys.erase(std::unique(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
               keys.end());

    FreeUnits free;
    free.take(0);  // the root
    units_.resize(1);
    std::vector<Pending> pending = {{0, 0, keys.size(), 0}};
    std::vector<std::pair<uint8_t, size_t>> children;  // label, first key
    uint32_t highest_base = 1;
    while (!pending.empty()) {
        const Pending node = pending.back();
        pending.pop_back();
        size_t first = node.first;
        if (first < node.last && keys[first].first.size() == node.depth) units_[node.unit].value = keys[first++].second;
        children.clear();
        for (size_t k = first; k < node.last; ++k) {
            const uint8_t label = uint8_t(keys[k].first[node.depth]);
            if (children.empty() || children.back().first != label) children.emplace_back(label, k);
        }
        if (children.empty()) {
            units_[node.unit].base = 1;  // a leaf: its children's slots all hold other parents or nothing
            continue;
        }
        // The lowest base >= 1 whose slots for every label are free.
        const size_t lowest_label = children.front().first;
        size_t slot = free.first_free_from(lowest_label + 1);
        for (;; slot = free.first_free_from(slot + 1)) {
            const size_t base = slot - lowest_label;
            if (std::all_of(children.begin() + 1, children.end(), [&](const auto& c) { return free.is_free(base + c.first); }))
                break;
        }
        const uint32_t base = uint32_t(slot - lowest_label);
        highest_base = std::max(highest_base, base);
        units_[node.unit].base = base;
        if (units_.size() < base + kAlphabet + 1) units_.resize(base + kAlphabet + 1);
        for (size_t c = 0; c < children.size(); ++c) {
            const uint32_t child = base + children[c].first;
            free.take(child);
            units_[child].check = int32_t(node.unit);
            const size_t end = c + 1 < children.size() ? children[c + 1].second : node.last;
            pending.push_back({child, children[c].second, end, node.depth + 1});
        }
    }
    units_.resize(size_t(highest_base) + kAlphabet + 1);  // every base + byte stays inside the array
    units_.shrink_to_fit();
}

}  // namespace qb
