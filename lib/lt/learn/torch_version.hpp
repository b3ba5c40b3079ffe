#pragma once

// The LibTorch lt is built against, for the API differences it meets
// between 1.13 (Debian 12's, the reference) and 2.x (tests/compat checks
// the code against 2.6's headers).
#include <torch/version.h>

#define LT_TORCH_AT_LEAST(major, minor) \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
