// Data set layouts: flat '<wnid>_' files, ImageFolder class sub-folders, label files; folder
// walks that survive links, loops and FIFOs; the CLI on each layout.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "sqz/import/exporters.h"
#include "sqz/pipeline/labels.h"
#include "test_util.h"

using namespace sqz;
namespace P = sqz::pipeline;
namespace fs = std::filesystem;

namespace {

// The same 12 images three ways: flat/<wnid>_<n>.png, tree/<wnid>/<n>.png (one nested deeper),
// and list.txt over the tree; classes n001..n003 in classes.txt.
struct Layouts {
  test::TempDir dir;
  std::string flat = dir.file("flat"), tree = dir.file("tree"), classes = dir.file("classes.txt");
  Layouts() {
    fs::create_directories(flat);
    test::write_bytes(classes, "n001 zero\nn002 one\nn003 two\n");
    std::string list;
    for (int i = 0; i < 12; ++i) {
      const std::string wnid = "n00" + std::to_string(1 + i % 3), n = std::to_string(10 + i);
      test::write_png(flat + "/" + wnid + "_" + n + ".png", 40 + i, 36 + i % 5, i);
      const std::string sub = wnid + (i == 4 ? "/deeper" : "");
      fs::create_directories(tree + "/" + sub);
      test::write_png(tree + "/" + sub + "/" + n + ".PNG", 40 + i, 36 + i % 5, i);
      list += sub + "/" + n + ".PNG\t" + (i % 2 ? std::to_string(i % 3) : wnid) + "\n";
    }
    test::write_bytes(dir.file("list.txt"), list);
  }
};

}  // namespace

TEST_CASE("list_dataset: flat, ImageFolder and label-file layouts give the same classes") {
  Layouts d;
  auto flat = P::list_dataset({d.flat, d.classes, ""}, true);
  REQUIRE(flat.is_ok());
  auto tree = P::list_dataset({d.tree, d.classes, ""}, true);
  REQUIRE(tree.is_ok());
  auto sorted_folders = P::list_dataset({d.tree, "", ""}, true);
  REQUIRE(sorted_folders.is_ok());
  CHECK(sorted_folders->classes == std::vector<std::string>{"n001", "n002", "n003"});
  auto listed = P::list_dataset({d.tree, d.classes, d.dir.file("list.txt")}, true);
  REQUIRE(listed.is_ok());
  REQUIRE(flat->size() == 12);
  REQUIRE(tree->size() == 12);
  REQUIRE(listed->size() == 12);
  // Class per image, whichever layout: count each class.
  for (const P::LabelledFiles* f : {&*flat, &*tree, &*sorted_folders, &*listed}) {
    int count[3] = {0, 0, 0};
    for (int l : f->labels) {
      REQUIRE(l >= 0);
      REQUIRE(l < 3);
      ++count[l];
    }
    CHECK(count[0] == 4);
    CHECK(count[1] == 4);
    CHECK(count[2] == 4);
  }
  // The nested image takes its top folder's class.
  for (size_t i = 0; i < tree->size(); ++i)
    if (tree->files[i].find("/deeper/") != std::string::npos) CHECK(tree->labels[i] == 1);
  // Without classes: flat files are unlabelled, an error only when labels are required.
  auto unlabelled = P::list_dataset({d.flat, "", ""}, false);
  REQUIRE(unlabelled.is_ok());
  CHECK(unlabelled->labels[0] == -1);
  auto required = P::list_dataset({d.flat, "", ""}, true);
  REQUIRE_FALSE(required.is_ok());
  CHECK(required.status().message().find("no class") != std::string::npos);
  // keep_first keeps files and labels together.
  P::keep_first(&*tree, 5);
  CHECK(tree->files.size() == 5);
  CHECK(tree->labels.size() == 5);
}

TEST_CASE("list_dataset: a class list and a label file written on Windows read the same") {
  Layouts d;
  auto plain = P::list_dataset({d.tree, d.classes, d.dir.file("list.txt")}, true);
  REQUIRE(plain.is_ok());
  // A UTF-8 byte-order mark before the first line and CRLF line ends, as Notepad saves them.
  auto windows = [](std::string text) {
    std::string out = "\xEF\xBB\xBF";
    for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
  };
  test::write_bytes(d.dir.file("classes_win.txt"), windows(test::read_bytes(d.classes)));
  test::write_bytes(d.dir.file("list_win.txt"), windows(test::read_bytes(d.dir.file("list.txt"))));
  auto win = P::list_dataset({d.tree, d.dir.file("classes_win.txt"), d.dir.file("list_win.txt")},
                             true);
  REQUIRE(win.is_ok());
  CHECK(win->files == plain->files);  // the first path without the mark: found
  CHECK(win->labels == plain->labels);
  CHECK(win->classes == plain->classes);  // the first class id without it: n001
}

TEST_CASE("list_dataset: errors name the file and line") {
  Layouts d;
  test::write_bytes(d.dir.file("bad1.txt"), "n001/10.PNG\t0\nno-tab-here\n");
  auto r1 = P::list_dataset({d.tree, d.classes, d.dir.file("bad1.txt")}, true);
  CHECK(r1.status().message() == d.dir.file("bad1.txt") + ": line 2: wants 'relative/path<TAB>class'");
  test::write_bytes(d.dir.file("bad2.txt"), "n001/10.PNG\t7\n");
  auto r2 = P::list_dataset({d.tree, d.classes, d.dir.file("bad2.txt")}, true);
  CHECK(r2.status().message().find("line 1: class index 7 is out of range") != std::string::npos);
  test::write_bytes(d.dir.file("bad3.txt"), "n001/10.PNG\tn009\n");
  auto r3 = P::list_dataset({d.tree, d.classes, d.dir.file("bad3.txt")}, true);
  CHECK(r3.status().message().find("class 'n009' is not in the class list") != std::string::npos);
  // An image listed twice would be counted twice (here under two labels).
  test::write_bytes(d.dir.file("bad4.txt"), "n001/10.PNG\t0\n# note\nn001/./10.PNG\t1\n");
  auto r5 = P::list_dataset({d.tree, d.classes, d.dir.file("bad4.txt")}, true);
  CHECK(r5.status().message() ==
        d.dir.file("bad4.txt") + ": line 3: n001/./10.PNG is listed twice (line 1)");
  fs::create_directories(d.tree + "/n777");
  test::write_png(d.tree + "/n777/x.png", 30, 30, 1);
  auto r4 = P::list_dataset({d.tree, d.classes, ""}, true);
  CHECK(r4.status().message().find("its folder 'n777' is not a class of") != std::string::npos);
  CHECK(P::list_dataset({d.dir.file("missing"), "", ""}, false).status().code() == ErrorCode::kIo);
}

TEST_CASE("folder walks: link loops, links out of the tree, FIFOs and deep nesting") {
  test::TempDir dir;
  const std::string root = dir.file("root");
  fs::create_directories(root + "/a");
  test::write_png(root + "/a/1.png", 30, 30, 1);
  fs::create_directory_symlink(root, root + "/a/loop");  // a loop back to the top
  fs::create_directories(dir.file("outside"));
  test::write_png(dir.file("outside/2.png"), 30, 30, 2);
  fs::create_directory_symlink(dir.file("outside"), root + "/out");  // a link out of the tree
  REQUIRE(::mkfifo((root + "/a/pipe.png").c_str(), 0600) == 0);    // would block a reader
  auto files = P::list_images_recursive(root);
  REQUIRE(files.is_ok());
  CHECK(*files == std::vector<std::string>{root + "/a/1.png"});
  std::string deep = dir.file("deep");
  for (int i = 0; i <= P::kMaxFolderDepth + 1; ++i) deep += "/d";
  fs::create_directories(deep);
  test::write_png(deep + "/x.png", 30, 30, 3);
  auto too_deep = P::list_images_recursive(dir.file("deep"));
  CHECK(too_deep.status().code() == ErrorCode::kLimit);
}

TEST_CASE("folder walks: images in formats torchvision reads but this tool does not are reported") {
  test::TempDir dir;
  const std::string root = dir.file("root");
  fs::create_directories(root + "/cat");
  test::write_png(root + "/cat/1.png", 30, 30, 1);
  test::write_bytes(root + "/cat/2.WebP", "RIFF....WEBP");
  test::write_bytes(root + "/cat/3.bmp", "BM");
  test::write_bytes(root + "/cat/notes.txt", "not an image");
  P::UnusableFiles unusable;
  auto files = P::list_images_recursive(root, &unusable);
  REQUIRE(files.is_ok());
  CHECK(*files == std::vector<std::string>{root + "/cat/1.png"});
  REQUIRE(unusable.size() == 2);  // the text file is no image of any kind
  std::sort(unusable.begin(), unusable.end());
  CHECK(unusable[0].second == root + "/cat/2.WebP: webp images are not read here (JPEG and PNG are)");
  CHECK(unusable[1].second == root + "/cat/3.bmp: bmp images are not read here (JPEG and PNG are)");
}

TEST_CASE("CLI: eval, report and compress read every layout alike") {
  Layouts d;
  const std::string onnx = d.dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(test::tiny_squeezenet(8, 31, 3, 0.6)).value());
  auto flat = test::run_cli({"eval", onnx, "--images", d.flat, "--labels", d.classes, "--json"});
  REQUIRE(flat.exit_code == 0);
  auto tree = test::run_cli({"eval", onnx, "--images", d.tree, "--json"});  // sorted folders
  REQUIRE(tree.exit_code == 0);
  auto listed = test::run_cli({"eval", onnx, "--images", d.tree, "--labels", d.classes,
                               "--label-file", d.dir.file("list.txt"), "--json"});
  REQUIRE(listed.exit_code == 0);
  auto fields = [](const std::string& json) { return json.substr(json.find("\"images\"")); };
  CHECK(fields(tree.out) == fields(flat.out));
  CHECK(fields(listed.out) == fields(flat.out));
  // Unlabelled flat files are an error that says how to label them.
  auto none = test::run_cli({"eval", onnx, "--images", d.flat});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("no class") != std::string::npos);
  // compress: an ImageFolder calibration folder, half held out with its folder classes.
  auto c = test::run_cli({"compress", onnx, "--calib", d.tree, "--calib-split", "1/2", "--bits",
                          "5", "--calib-steps", "2", "--calib-batch", "2", "-o",
                          d.dir.file("c.sqz"), "--json", "-q"});
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("\"images\": 6") != std::string::npos);
  CHECK(c.out.find("\"top1\": null") == std::string::npos);  // the held-out half is labelled
}
