// Loads a .sqz, preprocesses an image as the file records (Caffe's way, resize to 256, centre
// crop, BGR minus the ImageNet means, when it records nothing) and prints the top 5 classes
// with their scores (and names, given a class list of '<id> <name>' lines): the embedding API,
// sqz/runtime/classifier.h.
// usage: classify_sqz MODEL.sqz IMAGE [CLASSES.txt]
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "sqz/core/version.h"
#include "sqz/runtime/classifier.h"

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
  auto classifier = sqz::runtime::Classifier::open(argv[1]);
  if (!classifier.is_ok()) return fail(classifier.status());
  auto scores = (*classifier)->classify_file(argv[2]);
  if (!scores.is_ok()) return fail(scores.status());
  const std::vector<std::string> names = argc > 3 ? class_names(argv[3]) : std::vector<std::string>{};
  for (int c : sqz::runtime::top_k(scores->data(), static_cast<int64_t>(scores->size()), 5))
    std::printf("%4d  %10.4f  %s\n", c, (*scores)[c],
                static_cast<size_t>(c) < names.size() ? names[c].c_str() : "");
  return 0;
}
