// ImageNet-style class lists (synsets.txt: "<wnid> <name>" per line, line index = class).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sqz/core/status.h"

namespace sqz::pipeline {

struct Labels {
  std::vector<std::string> wnids, names;
  std::map<std::string, int> index_of_wnid;
};

Result<Labels> read_labels(const std::string& path);

// Class index of an image named "<wnid>_<anything>", or -1.
int label_from_filename(const Labels& labels, const std::string& path);

// Sorted image files (.jpg .jpeg .png, any case) directly inside dir.
Result<std::vector<std::string>> list_images(const std::string& dir);

}  // namespace sqz::pipeline
