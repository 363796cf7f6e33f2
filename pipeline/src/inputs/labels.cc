#include "sqz/pipeline/labels.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <unordered_map>

#include "sqz/core/file_io.h"

namespace sqz::pipeline {
namespace fs = std::filesystem;
namespace {

bool is_image_name(const std::string& path) {
  const std::string ext = file_extension(path);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// The other formats torchvision's ImageFolder reads (IMG_EXTENSIONS): a folder holding them is
// not measured on a silent subset; they are reported as unusable.
bool is_undecoded_image_name(const std::string& path) {
  const std::string ext = file_extension(path);
  for (const char* other : {".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == other) return true;
  return false;
}

// Why a path with an image name is not a readable image file.
std::string unusable_reason(const fs::path& path) {
  std::error_code ec;
  const fs::file_status target = fs::status(path, ec);
  if (ec) return "a link that leads nowhere (" + ec.message() + ")";
  switch (target.type()) {
    case fs::file_type::fifo:
      return "a FIFO, not a regular file";
    case fs::file_type::character:
    case fs::file_type::block:
      return "a device, not a regular file";
    case fs::file_type::socket:
      return "a socket, not a regular file";
    default:
      return "not a regular file";
  }
}

Status not_a_directory(const std::string& dir) {
  return Status(ErrorCode::kIo, dir + ": not a directory");
}

// The top folder of `file` below `dir` ("" when file lies directly in dir).
std::string top_folder(const std::string& dir, const std::string& file) {
  const fs::path rel = fs::path(file).lexically_relative(dir);
  auto it = rel.begin();
  if (it == rel.end() || std::next(it) == rel.end()) return "";
  return it->string();
}

// Sorted names of dir's immediate sub-folders (torchvision's find_classes).
std::vector<std::string> sub_folders(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Result<int> class_of(const std::string& token, const Labels* list, const std::string& where) {
  char* end = nullptr;
  const long v = std::strtol(token.c_str(), &end, 10);
  if (!token.empty() && *end == '\0') {
    SQZ_RETURN_ERROR_IF(
        v < 0 || v > 1'000'000 || (list && v >= static_cast<long>(list->wnids.size())),
        ErrorCode::kInvalidArgument, where + ": class index " + token + " is out of range");
    return static_cast<int>(v);
  }
  SQZ_RETURN_ERROR_IF(!list, ErrorCode::kInvalidArgument,
                      where + ": class '" + token + "' needs a class list (`labels`)");
  const int c = find_class(*list, token);
  SQZ_RETURN_ERROR_IF(c < 0, ErrorCode::kNotFound,
                      where + ": class '" + token + "' is not in the class list");
  return c;
}

// A label-file path that stays inside the data set folder: relative, without "..".
bool confined(const std::string& rel) {
  const fs::path p(rel);
  if (p.is_absolute() || rel.empty()) return false;
  for (const fs::path& part : p)
    if (part == "..") return false;
  return true;
}

Result<LabelledFiles> from_label_file(const DatasetSpec& s, const Labels* list) {
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(s.label_file, size_t{256} << 20));
  strip_utf8_bom(&text);
  LabelledFiles out;
  if (list) out.classes = list->wnids, out.class_source = "the class list " + s.class_list;
  std::istringstream in(text);
  int line_no = 0;
  // An image listed twice would be counted twice, under two labels if they differ.
  std::unordered_map<std::string, int> line_of_image;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = s.label_file + ": line " + std::to_string(line_no);
    const size_t tab = line.rfind('\t');
    SQZ_RETURN_ERROR_IF(tab == std::string::npos || tab == 0, ErrorCode::kParse,
                        where + ": wants 'relative/path<TAB>class'");
    SQZ_ASSIGN_OR_RETURN(int label, class_of(line.substr(tab + 1), list, where));
    SQZ_RETURN_ERROR_IF(!confined(line.substr(0, tab)), ErrorCode::kInvalidArgument,
                        where + ": the path must be relative to " + s.dir +
                            " and stay inside it (no leading '/', no '..')");
    const auto [seen, first] =
        line_of_image.emplace(fs::path(line.substr(0, tab)).lexically_normal().string(), line_no);
    SQZ_RETURN_ERROR_IF(!first, ErrorCode::kInvalidArgument,
                        where + ": " + line.substr(0, tab) + " is listed twice (line " +
                            std::to_string(seen->second) + ")");
    out.files.push_back((fs::path(s.dir) / line.substr(0, tab)).string());
    out.labels.push_back(label);
    SQZ_RETURN_ERROR_IF(
        static_cast<int64_t>(out.files.size()) > kMaxListedImages, ErrorCode::kLimit,
        s.label_file + ": more than the limit of " + std::to_string(kMaxListedImages) + " images");
  }
  SQZ_RETURN_ERROR_IF(out.files.empty(), ErrorCode::kNotFound, s.label_file + ": no images listed");
  return out;
}

// Names that identify one class: "tench, Tinca tinca" is found as itself and as "tench".
void index_names(Labels* labels) {
  std::map<std::string, int> count;
  std::vector<std::vector<std::string>> keys(labels->names.size());
  for (size_t i = 0; i < labels->names.size(); ++i) {
    const std::string& name = labels->names[i];
    keys[i].push_back(name);
    const std::string first = name.substr(0, name.find(','));
    if (first != name) keys[i].push_back(first);
    for (const std::string& k : keys[i]) ++count[k];
  }
  for (size_t i = 0; i < keys.size(); ++i)
    for (const std::string& k : keys[i])
      if (count[k] == 1 && !labels->index_of_wnid.count(k))
        labels->index_of_name[k] = static_cast<int>(i);
}

// Classes of images found by a folder walk (see list_dataset): a top folder's class by the
// class list (id or name), else by its rank among the sorted top folders; a file directly in
// the folder by its "<wnid>_" name.
Status label_folder_files(const DatasetSpec& s, const Labels* list, bool require_labels,
                          LabelledFiles* out) {
  std::map<std::string, int> folder_class;
  if (list) {
    out->classes = list->wnids;
    out->class_source = "the class list " + s.class_list;
  } else {
    out->classes = sub_folders(s.dir);
    SQZ_RETURN_ERROR_IF(
        static_cast<int64_t>(out->classes.size()) > kMaxClasses, ErrorCode::kLimit,
        s.dir + ": more than the limit of " + std::to_string(kMaxClasses) + " class folders");
    if (!out->classes.empty()) out->class_source = "the class folders of " + s.dir;
    out->classes_from_folders = !out->classes.empty();
    for (size_t i = 0; i < out->classes.size(); ++i)
      folder_class[out->classes[i]] = static_cast<int>(i);
  }
  for (const std::string& f : out->files) {
    const std::string folder = top_folder(s.dir, f);
    int label = -1;
    if (folder.empty()) {
      label = list ? label_from_filename(*list, f) : -1;
    } else if (list) {
      label = find_class(*list, folder);
      SQZ_RETURN_ERROR_IF(label < 0 && require_labels, ErrorCode::kNotFound,
                          f + ": its folder '" + folder + "' is not a class of " + s.class_list);
    } else {
      label = folder_class.count(folder) ? folder_class[folder] : -1;
    }
    out->labels.push_back(label);
  }
  return Status::ok();
}

}  // namespace

Result<Labels> read_labels(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string text, read_file(path, size_t{16} << 20));
  strip_utf8_bom(&text);
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    return Status(ErrorCode::kParse, path + ": not a text class list (a NUL byte at offset " +
                                         std::to_string(nul) + ")");
  Labels labels;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    std::string wnid = line.substr(0, space);
    std::string name = space == std::string::npos ? wnid : line.substr(space + 1);
    if (wnid.empty())
      return Status(ErrorCode::kParse,
                    path + ": line " + std::to_string(n) + ": no class id before the space");
    if (!labels.index_of_wnid.emplace(wnid, static_cast<int>(labels.wnids.size())).second)
      return Status(ErrorCode::kParse,
                    path + ": line " + std::to_string(n) + ": class '" + wnid + "' listed twice");
    labels.wnids.push_back(wnid);
    labels.names.push_back(name);
    SQZ_RETURN_ERROR_IF(
        labels.wnids.size() > kMaxClasses, ErrorCode::kLimit,
        path + ": more than the limit of " + std::to_string(kMaxClasses) + " classes");
  }
  if (labels.wnids.empty()) return Status(ErrorCode::kParse, path + ": no labels");
  index_names(&labels);
  return labels;
}

int find_class(const Labels& labels, const std::string& id_or_name) {
  if (auto it = labels.index_of_wnid.find(id_or_name); it != labels.index_of_wnid.end())
    return it->second;
  auto it = labels.index_of_name.find(id_or_name);
  return it == labels.index_of_name.end() ? -1 : it->second;
}

int label_from_filename(const Labels& labels, const std::string& path) {
  std::string base = fs::path(path).filename().string();
  auto it = labels.index_of_wnid.find(base.substr(0, base.find('_')));
  return it == labels.index_of_wnid.end() ? -1 : it->second;
}

Result<std::vector<std::string>> list_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return not_a_directory(dir);
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_image_name(it->path().string()))
      files.push_back(it->path().string());
  if (ec) return Status(ErrorCode::kIo, dir + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

Result<std::vector<std::string>> list_images_recursive(const std::string& dir,
                                                       UnusableFiles* unusable) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return not_a_directory(dir);
  std::vector<std::string> files;
  const auto options = fs::directory_options::skip_permission_denied;
  fs::recursive_directory_iterator it(dir, options, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    SQZ_RETURN_ERROR_IF(
        it.depth() > kMaxFolderDepth, ErrorCode::kLimit,
        dir + ": folders nested deeper than the limit of " + std::to_string(kMaxFolderDepth));
    std::error_code type_ec;
    if (is_undecoded_image_name(it->path().string()) && unusable &&
        it->is_regular_file(type_ec)) {
      unusable->push_back({it->path().string(),
                           it->path().string() + ": " +
                               file_extension(it->path().string()).substr(1) +
                               " images are not read here (JPEG and PNG are)"});
      continue;
    }
    if (!is_image_name(it->path().string())) continue;
    if (it->is_regular_file(type_ec)) {
      files.push_back(it->path().string());
    } else if (unusable && !it->is_directory(type_ec)) {
      unusable->push_back(
          {it->path().string(), it->path().string() + ": " + unusable_reason(it->path())});
    }
    SQZ_RETURN_ERROR_IF(
        static_cast<int64_t>(files.size()) > kMaxListedImages, ErrorCode::kLimit,
        dir + ": more than the limit of " + std::to_string(kMaxListedImages) + " images");
  }
  if (ec) return Status(ErrorCode::kIo, dir + ": cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

Result<LabelledFiles> list_dataset(const DatasetSpec& s, bool require_labels) {
  Labels list;
  const bool have_list = !s.class_list.empty();
  if (have_list) {
    SQZ_ASSIGN_OR_RETURN(list, read_labels(s.class_list));
  }
  LabelledFiles out;
  if (!s.label_file.empty()) {
    SQZ_ASSIGN_OR_RETURN(out, from_label_file(s, have_list ? &list : nullptr));
    out.classes_guessed = s.class_list_guessed;
  } else {
    SQZ_ASSIGN_OR_RETURN(out.files, list_images_recursive(s.dir, &out.unusable));
    SQZ_RETURN_ERROR_IF(out.files.empty(), ErrorCode::kNotFound,
                        s.dir + ": no images (.jpg, .jpeg, .png)" +
                            (out.unusable.empty() ? "" : " (" + out.unusable.front().second + ")"));
    SQZ_RETURN_IF_ERROR(label_folder_files(s, have_list ? &list : nullptr, require_labels, &out));
    out.classes_guessed = s.class_list_guessed && have_list;
  }
  if (require_labels)
    for (size_t i = 0; i < out.size(); ++i) {
      if (out.labels[i] >= 0) continue;
      if (have_list && top_folder(s.dir, out.files[i]).empty())
        return Status(
            ErrorCode::kNotFound,
            out.files[i] + ": its name does not start with a class id from " + s.class_list);
      return Status(ErrorCode::kNotFound,
                    out.files[i] + ": no class: name it '<class id>_...' (with a class list), " +
                        "put it in a class folder, or list it in `label_file`");
    }
  return out;
}

Result<int64_t> class_count(const Model& model) {
  Model copy = model;
  SQZ_ASSIGN_OR_RETURN(auto shapes, validate_and_infer(copy, 1, false));
  return shape_numel(shapes.at(copy.output));
}

Status check_labels_fit(const LabelledFiles& f, int64_t classes, const std::string& model) {
  const auto listed = static_cast<int64_t>(f.classes.size());
  SQZ_RETURN_ERROR_IF(
      !f.class_source.empty() && listed != classes, ErrorCode::kInvalidArgument,
      f.class_source + ": " + std::to_string(listed) + " classes, but " + model + " has " +
          std::to_string(classes) + " outputs" +
          (!f.classes_from_folders
               ? ""
               : ": give the model's class list (`labels`) to map the folders to its outputs"));
  for (size_t i = 0; i < f.size(); ++i)
    SQZ_RETURN_ERROR_IF(f.labels[i] >= classes, ErrorCode::kInvalidArgument,
                        f.files[i] + ": class " + std::to_string(f.labels[i]) + " is outside " +
                            model + "'s " + std::to_string(classes) + " outputs (0.." +
                            std::to_string(classes - 1) + ")");
  return Status::ok();
}

Status fit_labels(LabelledFiles* f, int64_t classes, const std::string& model, std::string* note) {
  note->clear();
  Status fits = check_labels_fit(*f, classes, model);
  if (fits.is_ok() || !f->classes_guessed) return fits;
  *note = f->class_source + ": " + std::to_string(f->classes.size()) + " classes, " + model +
          " has " + std::to_string(classes) +
          " outputs: the images are measured without labels (agreement and KL only)";
  std::fill(f->labels.begin(), f->labels.end(), -1);
  f->classes.clear();
  f->class_source.clear();
  f->classes_from_folders = false;
  return Status::ok();
}

std::string default_class_list(const std::string& dir) {
  std::error_code ec;
  const fs::path guess = fs::path(dir).lexically_normal().parent_path() / "synsets.txt";
  return fs::is_regular_file(guess, ec) ? guess.string() : "";
}

void keep_first(LabelledFiles* f, int64_t n) {
  if (n <= 0 || static_cast<size_t>(n) >= f->size()) return;
  f->files.resize(static_cast<size_t>(n));
  f->labels.resize(static_cast<size_t>(n));
}

}  // namespace sqz::pipeline
