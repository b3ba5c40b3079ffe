// Precompiled header of the library: the heavy, stable headers.
#pragma once
#include <ATen/ATen.h>
#include <hdf5.h>
#include <fmt/format.h>
#include <string>
#include <vector>
