// A JobControl for one phase of a multi-phase job (decode the weights, then evaluate): its progress
// maps onto [from, to] of the parent's, and cancelling the parent stops the phase at its next step.
#pragma once
#include "core/jobs/job.h"

namespace qbui {

qb::JobControl job_phase(const qb::JobControl& parent, double from, double to);

}  // namespace qbui
