// Image data sets as users lay them out, and ImageNet-style class lists (synsets.txt:
// "<wnid> <name>" per line, line index = class).
#pragma once

#include <cstdint>
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

// Limits of a folder walk: how deep it descends and how many images it lists.
inline constexpr int kMaxFolderDepth = 32;
inline constexpr int64_t kMaxListedImages = 10'000'000;

// Sorted image files anywhere below dir (regular files, or links to them). Links to folders
// are not followed, so a walk never leaves the tree or loops; unreadable folders are skipped.
// kLimit past kMaxFolderDepth levels or kMaxListedImages files.
Result<std::vector<std::string>> list_images_recursive(const std::string& dir);

// Images with their classes (-1: unknown), in a stable order.
struct LabelledFiles {
  std::vector<std::string> files;
  std::vector<int> labels;
  std::vector<std::string> classes;  // class index -> name (a class list's ids, or folder names)
  size_t size() const { return files.size(); }
};

// Where a data set's images and classes come from:
// - label_file: lines "relative/path<TAB>class" (class: an index, or an id of the class list),
//   paths relative to dir;
// - else every image below dir: one in a sub-folder takes the class of its top folder (the
//   ImageFolder layout of torchvision), one directly in dir the class its "<wnid>_" name has in
//   the class list. Folder classes index the class list by folder name when it is given,
//   else the sorted top folder names (as torchvision does).
// class_list: "<id> <name>" lines, "" for none.
struct DatasetSpec {
  std::string dir, class_list, label_file;
};

// Errors name the file or line: no images, an unknown class, a malformed label file, a
// folder walk past its limits. With require_labels, an image without a class is an error
// that says how to give one.
Result<LabelledFiles> list_dataset(const DatasetSpec& spec, bool require_labels);

// The class list a data set folder implies: synsets.txt beside the folder when it exists,
// else "" (ImageFolder layouts then take their sorted folder names).
std::string default_class_list(const std::string& dir);

// The first `n` entries (n > 0 and fewer than there are), the order kept.
void keep_first(LabelledFiles* files, int64_t n);

}  // namespace sqz::pipeline
