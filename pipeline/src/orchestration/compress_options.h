// compress's options: what they record in the file, and how many calibration steps they ask
// for (compress.cc's helpers).
#pragma once

#include <string>

#include "compress_images.h"
#include "sqz/pipeline/compress.h"

namespace sqz::pipeline::detail {

// The calibration steps compress will run (none after sequential codes unless asked for).
int calibration_steps(const CompressOptions& s, const ImageLists& lists);

// The settings line recorded in the file's metadata ("pipeline").
std::string pipeline_summary(const CompressOptions& s, const ImageLists& lists);

}  // namespace sqz::pipeline::detail
