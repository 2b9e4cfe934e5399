// A random 128 x 512 layer with its calibration (Hessian from 2048 correlated activation rows) and the
// QuantizeRequest the algorithm tests build from it.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/algo/algorithm.h"
#include "tests/support/random_layer.h"

namespace qbtest {

struct CalibratedLayer {
    int64_t rows = 0, cols = 0;
    std::vector<float> weight;
    LayerCalibration calibration;
};

inline CalibratedLayer calibrated_layer(uint64_t weight_seed, uint64_t activation_seed) {
    CalibratedLayer l{128, 512, random_weights(128, 512, weight_seed), {}};
    l.calibration = calibration_of(random_activations(2048, l.cols, activation_seed), 2048, l.cols);
    return l;
}

inline qb::QuantizeRequest request(const CalibratedLayer& l, const std::string& format,
                                   nlohmann::json options = nlohmann::json::object()) {
    qb::QuantizeRequest r;
    r.weight = l.weight.data();
    r.rows = l.rows;
    r.cols = l.cols;
    r.format = &qb::format_by_name(format);
    r.hessian = l.calibration.hessian;
    r.mean_abs = l.calibration.mean_abs;
    r.mean_square = l.calibration.mean_square;
    r.options = std::move(options);
    r.threads = 2;
    return r;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace qbtest
