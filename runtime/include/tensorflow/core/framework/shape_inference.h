// TensorFlow-compatible header shipped by pygraph (see runtime/include/pygraph/tf/).
#pragma once
#include "pygraph/tf/registry.h"
