// Placeholder until the first view lands: qbui needs at least one source.
#pragma once
