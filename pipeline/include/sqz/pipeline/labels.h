// Image data sets as users lay them out, and ImageNet-style class lists (synsets.txt:
// "<wnid> <name>" per line, line index = class).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sqz/core/graph.h"
#include "sqz/core/status.h"

namespace sqz::pipeline {

struct Labels {
  std::vector<std::string> wnids, names;
  std::map<std::string, int> index_of_wnid;
  // Class names (whole, and the first of a comma-separated list) that name one class only.
  std::map<std::string, int> index_of_name;
};

// The class of an id or a name of the list (a folder named "n01440764" or "tench"), or -1.
int find_class(const Labels& labels, const std::string& id_or_name);

Result<Labels> read_labels(const std::string& path);

// Class index of an image named "<wnid>_<anything>", or -1.
int label_from_filename(const Labels& labels, const std::string& path);

// Sorted image files (.jpg .jpeg .png, any case) directly inside dir.
Result<std::vector<std::string>> list_images(const std::string& dir);

// Limits of a folder walk: how deep it descends and how many images it lists.
inline constexpr int kMaxFolderDepth = 32;
inline constexpr int64_t kMaxListedImages = 10'000'000;
// Most classes a class list or a folder set may name.
inline constexpr int64_t kMaxClasses = 1'000'000;

// Files with an image name that cannot be read as one (a FIFO, a device, a dangling or
// looping link), with the reason: listed so that a measurement says it skipped them.
using UnusableFiles = std::vector<std::pair<std::string, std::string>>;

// Sorted image files anywhere below dir (regular files, or links to them). Links to folders
// are not followed, so a walk never leaves the tree or loops; unreadable folders are skipped.
// kLimit past kMaxFolderDepth levels or kMaxListedImages files. Image names that are not
// regular files go to *unusable (when given).
Result<std::vector<std::string>> list_images_recursive(const std::string& dir,
                                                       UnusableFiles* unusable = nullptr);

// Images with their classes (-1: unknown), in a stable order.
struct LabelledFiles {
  std::vector<std::string> files;
  std::vector<int> labels;
  std::vector<std::string> classes;   // class index -> name (a class list's ids, or folder names)
  std::string class_source;           // where `classes` came from, for messages ("" = nowhere)
  bool classes_from_folders = false;  // `classes` are sorted folder names (no class list)
  UnusableFiles unusable;             // image names below the folder that are not files
  bool classes_guessed = false;       // DatasetSpec::class_list_guessed
  size_t size() const { return files.size(); }
};

// Where a data set's images and classes come from:
// - label_file: lines "relative/path<TAB>class" (class: an index, or an id of the class list),
//   paths relative to dir and inside it (no absolute path, no "..");
// - else every image below dir: one in a sub-folder takes the class of its top folder (the
//   ImageFolder layout of torchvision), one directly in dir the class its "<wnid>_" name has in
//   the class list. Folder classes index the class list by folder name (an id, or a class
//   name) when it is given, so that a folder of a subset of the classes keeps each class's
//   index; else the sorted top folder names (as torchvision does).
// class_list: "<id> <name>" lines, "" for none.
struct DatasetSpec {
  std::string dir, class_list, label_file;
  // class_list is only a guess (default_class_list) rather than the user's: one that does not
  // fit the model leaves the images unlabelled (fit_labels) instead of failing.
  bool class_list_guessed = false;
};

// Errors name the file or line: no images, an unknown class, a malformed label file, a
// folder walk past its limits. With require_labels, an image without a class is an error
// that says how to give one.
Result<LabelledFiles> list_dataset(const DatasetSpec& spec, bool require_labels);

// The number of classes a model scores: its output's elements per image. Errors: a graph
// that does not validate.
Result<int64_t> class_count(const Model& model);

// Whether a data set's classes fit a model with `classes` outputs (model names it in
// messages): a class list or a folder set of another size, or a label past the outputs, is
// kInvalidArgument (a subset of folders numbered 0..k-1 would be scored against the wrong
// outputs). Every command that scores or trains on labelled images checks this first.
Status check_labels_fit(const LabelledFiles& files, int64_t classes, const std::string& model);

// check_labels_fit for measurements that can do without labels (agreement and KL still
// hold): when the class list was only guessed and does not fit, the images become unlabelled
// and *note says why. Any other misfit is the error check_labels_fit gives.
Status fit_labels(LabelledFiles* files, int64_t classes, const std::string& model,
                  std::string* note);

// The class list a data set folder implies: synsets.txt beside the folder when it exists,
// else "" (ImageFolder layouts then take their sorted folder names).
std::string default_class_list(const std::string& dir);

// The first `n` entries (n > 0 and fewer than there are), the order kept.
void keep_first(LabelledFiles* files, int64_t n);

}  // namespace sqz::pipeline
