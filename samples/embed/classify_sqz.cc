// Loads a .sqz, preprocesses an image as the file records (sqz/image/record.h; Caffe's way,
// resize to 256, centre crop, BGR minus the ImageNet means, when it records nothing) and
// prints the top 5 classes with their scores (and names, given a class list of '<id> <name>'
// lines).
// usage: classify_sqz MODEL.sqz IMAGE [CLASSES.txt]
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "sqz/core/version.h"
#include "sqz/format/sqz_file.h"
#include "sqz/image/image.h"
#include "sqz/image/record.h"
#include "sqz/runtime/net.h"

namespace {

int fail(const sqz::Status& s) {
  std::fprintf(stderr, "classify_sqz: %s\n", s.message().c_str());
  return 1;
}

std::vector<std::string> class_names(const char* path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    names.push_back(line.substr(line.find(' ') == std::string::npos ? 0 : line.find(' ') + 1));
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: classify_sqz MODEL.sqz IMAGE [CLASSES.txt]  (%s)\n",
                 sqz::kProducer);
    return 2;
  }
  auto file = sqz::format::read_sqz(argv[1]);
  if (!file.is_ok()) return fail(file.status());
  auto net = sqz::rt::Net::create(file->model, {/*threads=*/1});
  if (!net.is_ok()) return fail(net.status());
  const sqz::Shape chw = (*net)->input_chw();
  auto recorded = sqz::image::recorded_preprocess(file->metadata);
  if (!recorded.is_ok()) return fail(recorded.status());
  auto pre = recorded->empty() ? sqz::Result<sqz::image::Preprocess>(sqz::image::caffe_preprocess(
                                     static_cast<int>(chw[1]), static_cast<int>(chw[2])))
                               : sqz::image::parse_preprocess(*recorded);
  if (!pre.is_ok()) return fail(pre.status());
  if (pre->channels != chw[0] || pre->crop_h != chw[1] || pre->crop_w != chw[2])
    return fail({sqz::ErrorCode::kCorrupt, "the recorded preprocessing does not fit the input"});
  auto image = sqz::image::decode_image_file(argv[2]);
  if (!image.is_ok()) return fail(image.status());
  auto input = sqz::image::preprocess(*image, *pre);
  if (!input.is_ok()) return fail(input.status());
  std::vector<float> scores;
  if (auto s = (*net)->forward(input->data(), 1, &scores); !s.is_ok()) return fail(s);
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min<size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  const std::vector<std::string> names = argc > 3 ? class_names(argv[3]) : std::vector<std::string>{};
  for (size_t i = 0; i < k; ++i) {
    const int c = order[i];
    std::printf("%4d  %10.4f  %s\n", c, scores[c],
                static_cast<size_t>(c) < names.size() ? names[c].c_str() : "");
  }
  return 0;
}
