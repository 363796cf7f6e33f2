// The images a compress run reads: calibration and held-out lists (compress.cc's helpers).
#pragma once

#include <string>
#include <vector>

#include "sqz/pipeline/compress.h"
#include "sqz/pipeline/labels.h"

namespace sqz::pipeline::detail {

// The two image lists: calibration (any images below calib_dir, no labels needed) and
// held-out (with their classes where known), never overlapping.
struct ImageLists {
  std::vector<std::string> calib;
  LabelledFiles holdout;
};

// The class list for a data set folder: the options' own, else synsets.txt beside it.
std::string class_list_for(const CompressOptions& s, const std::string& dir);

// Both lists from the options (folds of calib_dir, or holdout_dir); errors when they overlap
// (accuracy on a calibration image proves nothing) or a folder has no images.
Result<ImageLists> image_lists(const CompressOptions& s);

}  // namespace sqz::pipeline::detail
