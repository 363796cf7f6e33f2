// The images a compress run reads: calibration and held-out lists (compress.cc's helpers).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sqz/image/image.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/pipeline/labels.h"

namespace sqz::pipeline::detail {

// The two image lists: calibration (any images below calib_dir, no labels needed) and
// held-out (with their classes where known), never overlapping.
struct ImageLists {
  std::vector<std::string> calib;
  LabelledFiles holdout;
};

// Where the images come from (compress's options, seen, not copied): calibration images below
// calib_dir (all, or fold calib_fold, the other folds held out), held-out images in holdout_dir,
// and the class list labels ("": synsets.txt beside a folder).
struct ImageSources {
  const std::string& calib_dir;
  const std::string& holdout_dir;
  const std::string& labels;
  const std::optional<Fold>& calib_fold;
};

// The class list for a data set folder: the sources' own, else synsets.txt beside it.
std::string class_list_for(const ImageSources& s, const std::string& dir);

// Both lists (folds of calib_dir, or holdout_dir); errors when they overlap (accuracy on a
// calibration image proves nothing) or a folder has no images.
Result<ImageLists> image_lists(const ImageSources& s);

// A centre-cropped batch of the first n images (the allocation's probe, the moment images).
std::vector<float> probe_batch(const std::vector<image::Image>& images,
                               const image::Preprocess& pre, int n);

}  // namespace sqz::pipeline::detail
