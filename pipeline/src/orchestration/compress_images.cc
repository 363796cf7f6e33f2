#include "compress_images.h"

#include "sqz/pipeline/image_split.h"

namespace sqz::pipeline::detail {

std::string class_list_for(const ImageSources& s, const std::string& dir) {
  return s.labels.empty() ? default_class_list(dir) : s.labels;
}

Result<ImageLists> image_lists(const ImageSources& s) {
  ImageLists lists;
  if (!s.calib_dir.empty()) {
    SQZ_ASSIGN_OR_RETURN(
        LabelledFiles all,
        list_dataset({s.calib_dir, class_list_for(s, s.calib_dir), "", s.labels.empty()}, false));
    SQZ_RETURN_ERROR_IF(!all.unusable.empty(), ErrorCode::kIo, all.unusable.front().second);
    if (s.holdout_dir.empty()) {
      lists.holdout.classes = all.classes;
      lists.holdout.class_source = all.class_source;
      lists.holdout.classes_from_folders = all.classes_from_folders;
      lists.holdout.classes_guessed = all.classes_guessed;
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if (!s.calib_fold || calibrates_on(i, *s.calib_fold)) {
        lists.calib.push_back(all.files[i]);
      } else if (s.holdout_dir.empty()) {
        lists.holdout.files.push_back(all.files[i]);
        lists.holdout.labels.push_back(all.labels[i]);
      }
    }
  }
  if (!s.holdout_dir.empty()) {
    SQZ_ASSIGN_OR_RETURN(
        lists.holdout,
        list_dataset({s.holdout_dir, class_list_for(s, s.holdout_dir), "", s.labels.empty()},
                     false));
    SQZ_RETURN_ERROR_IF(!lists.holdout.unusable.empty(), ErrorCode::kIo,
                        lists.holdout.unusable.front().second);
  }
  // A split that leaves nothing to calibrate on would quietly calibrate on nothing.
  SQZ_RETURN_ERROR_IF(s.calib_fold && lists.calib.empty(), ErrorCode::kInvalidArgument,
                      s.calib_dir + ": no image is left to calibrate on after the split " +
                          std::to_string(s.calib_fold->index) + "/" +
                          std::to_string(s.calib_fold->count));
  SQZ_ASSIGN_OR_RETURN(std::string calib_ids, fingerprint_files(lists.calib));
  format::Metadata md{{kCalibrationKey, calib_ids}};
  SQZ_ASSIGN_OR_RETURN(auto overlap, calibration_overlap(md, lists.holdout.files));
  SQZ_RETURN_ERROR_IF(!overlap.empty(), ErrorCode::kInvalidArgument,
                      overlap.front() + ": a held-out image is also a calibration image (" +
                          std::to_string(overlap.size()) +
                          " in all); accuracy on it proves nothing");
  return lists;
}

std::vector<float> probe_batch(const std::vector<image::Image>& images,
                               const image::Preprocess& pre, int n) {
  std::vector<float> out;
  for (int i = 0; i < n; ++i) {
    const image::Image& img = images[static_cast<size_t>(i)];
    int x0 = 0, y0 = 0;
    image::centre_offsets(img, pre, &x0, &y0);
    const std::vector<float> x = image::preprocess_crop(img, pre, x0, y0, false);
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

}  // namespace sqz::pipeline::detail
