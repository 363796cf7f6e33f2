// Hostile inputs (crafted, not random): checksum-valid .sqz mutations from SPEC.md, image bombs,
// file-system traps, names made to break terminals and JSON, and the wrong results such inputs
// used to give. Each must end in exit 0 or 1 with one line naming the file, within a memory and
// a time cap measured by the harness (run_capped: RLIMIT_AS, wait4's peak RSS, a kill after the
// time cap; not a speed assertion).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "hostile_util.h"
#include "sqz/import/exporters.h"
#include "sqz/import/importers.h"
#include "sqz/format/sqz_file.h"
#include "sqz/pipeline/image_split.h"
#include "sqz/runtime/net.h"
#include "test_util.h"

using namespace sqz;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr double kTimeCap = 20;  // AddressSanitizer runs several times slower
#else
constexpr double kTimeCap = 5;
#endif
constexpr int64_t kAddressSpaceMib = 3072;  // the tool itself needs some; RSS is checked below
constexpr double kRssCapMib = 512;

// Exit 0, or exit 1 with one line "squeeze-compress: error: ..." naming `path` (or `other`,
// a second file the command reads); within caps.
void check_clean(const std::vector<std::string>& args, const std::string& path,
                 const std::string& what, const std::string& other = "") {
  std::vector<std::string> argv{SQZ_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  const test::CappedRun r = test::run_capped(argv, kAddressSpaceMib, kTimeCap);
  INFO(what << ": exit " << r.exit_code << ", signal " << r.signal << ", " << r.seconds << " s, "
            << r.peak_rss_mib << " MiB; stderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 0);
  CHECK((r.exit_code == 0 || r.exit_code == 1));
  CHECK(r.peak_rss_mib < kRssCapMib);
  if (r.exit_code == 1) {
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("squeeze-compress: error: ", 0) == 0);
    CHECK((r.err.find(path) != std::string::npos ||
           (!other.empty() && r.err.find(other) != std::string::npos)));
  }
}

std::string write_input(const test::TempDir& dir) {
  std::mt19937 rng(1);
  const std::vector<float> x = test::random_floats(rng, 3 * 19 * 19);
  const std::string path = dir.file("in.f32");
  test::write_bytes(path, std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4));
  return path;
}

}  // namespace

TEST_CASE("hostile .sqz corpus: every checksum-valid mutation fails in one line or runs") {
  const auto files = test::hostile_sqz_files();
  REQUIRE(files.size() >= 60);
  std::set<std::string> distinct, names;
  for (const auto& [name, bytes] : files) distinct.insert(bytes), names.insert(name);
  CHECK(distinct.size() == files.size());
  CHECK(names.size() == files.size());
  test::TempDir dir;
  const std::string input = write_input(dir);
  int failed_cleanly = 0;
  for (const auto& [name, bytes] : files) {
    const std::string path = dir.file(name + ".sqz");
    test::write_bytes(path, bytes);
    check_clean({"info", path}, path, name + " (info)");
    check_clean({"run", path, "--input-tensor", input, "--output-tensor", dir.file("out.f32"),
                 "--force", "-q"},
                path, name + " (run)", input);
    failed_cleanly += !format::decode_sqz(bytes).is_ok();
  }
  // Nearly all of them are errors; the few that stay valid files (a newer minor version, an
  // unknown optional section, a chain of ReLUs within the layer limit, another input size or
  // padding) run or fail on the input given.
  CHECK(failed_cleanly >= static_cast<int>(files.size()) - 8);
  for (const char* still_valid : {"version_minor_99", "unknown_optional", "relu_chain_9000"}) {
    INFO(still_valid);
    for (const auto& [name, bytes] : files)
      if (name == still_valid) CHECK(format::decode_sqz(bytes).is_ok());
  }
}

TEST_CASE("hostile .sqz: GRAPH records out of topological order keep their own weights") {
  const std::string base = test::hostile_base_sqz();
  test::SqzParts p = test::take_apart(base);
  std::string& g = p.sections[0].plain;
  const test::GraphLayout lay = test::read_graph_layout(g);
  // Move conv_final (record 11) to the front: every LAYER index past it shifts, as SPEC says
  // they count records in stored order.
  std::vector<size_t> order = {11};
  for (size_t i = 0; i < lay.records.size(); ++i)
    if (i != 11) order.push_back(i);
  std::string records;
  std::vector<uint32_t> new_index(lay.records.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const auto& r = lay.records[order[k]];
    records += g.substr(r.start, r.end - r.start);
    new_index[order[k]] = static_cast<uint32_t>(k);
  }
  g = g.substr(0, lay.records[0].start) + records;
  for (size_t s = 2; s < p.sections.size(); ++s) {
    std::string& l = p.sections[s].plain;
    const uint32_t old = static_cast<uint8_t>(l[0]) | static_cast<uint8_t>(l[1]) << 8;
    test::poke_u32(&l, 0, new_index[old]);
  }
  auto reordered = format::decode_sqz(test::assemble(p));
  REQUIRE(reordered.is_ok());
  auto original = format::decode_sqz(base);
  REQUIRE(original.is_ok());
  for (const Layer& l : original->model.layers) {
    const Layer* r = reordered->model.find_layer(l.name);
    REQUIRE(r);
    CHECK(r->weight.data == l.weight.data);
    CHECK(r->bias.data == l.bias.data);
  }
}

TEST_CASE("hostile images: bombs, scan bombs, truncation, FIFOs and link loops") {
  test::TempDir dir;
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(test::tiny_squeezenet(8, 31, 3, 0.6)).value());
  // A progressive JPEG whose header claims 16384 x 16384.
  std::string big = test::jpeg_bytes(16, 16, 1, true);
  for (size_t i = 2; i + 9 < big.size(); ++i)
    if (static_cast<uint8_t>(big[i]) == 0xFF && static_cast<uint8_t>(big[i + 1]) == 0xC2) {
      test::poke_u16(&big, i + 5, 0x0040), test::poke_u16(&big, i + 7, 0x0040);  // 16384, BE
      break;
    }
  test::write_bytes(dir.file("huge.jpg"), big);
  check_clean({"run", onnx, dir.file("huge.jpg")}, dir.file("huge.jpg"), "16384x16384 JPEG");
  auto huge = test::run_cli({"run", onnx, dir.file("huge.jpg")});
  CHECK(huge.err.find("beyond the limit") != std::string::npos);
  // A scan bomb: the last scan of a progressive JPEG repeated 1000 times.
  std::string prog = test::jpeg_bytes(64, 64, 2, true);
  size_t last_sos = prog.rfind(std::string("\xFF\xDA", 2));
  const std::string scan = prog.substr(last_sos, prog.size() - 2 - last_sos);
  std::string bomb = prog.substr(0, prog.size() - 2);
  for (int i = 0; i < 1000; ++i) bomb += scan;
  bomb += "\xFF\xD9";
  test::write_bytes(dir.file("scans.jpg"), bomb);
  check_clean({"run", onnx, dir.file("scans.jpg")}, dir.file("scans.jpg"), "scan bomb");
  CHECK(test::run_cli({"run", onnx, dir.file("scans.jpg")}).err.find("scans") != std::string::npos);
  // A JPEG cut in half: an error by default, accepted when asked.
  const std::string whole = test::jpeg_bytes(64, 48, 3, false);
  test::write_bytes(dir.file("cut.jpg"), whole.substr(0, whole.size() / 2));
  auto cut = test::run_cli({"run", onnx, dir.file("cut.jpg")});
  CHECK(cut.exit_code == 1);
  CHECK(cut.err.find("truncated or corrupt") != std::string::npos);
  CHECK(test::run_cli({"run", onnx, dir.file("cut.jpg"), "--allow-truncated-images"}).exit_code ==
        0);
  // A FIFO named like an image: refused, not opened (which would block).
  REQUIRE(::mkfifo(dir.file("pipe.png").c_str(), 0600) == 0);
  check_clean({"run", onnx, dir.file("pipe.png")}, dir.file("pipe.png"), "FIFO");
  CHECK(test::run_cli({"run", onnx, dir.file("pipe.png")}).err.find("not a regular file") !=
        std::string::npos);
  // eval on a folder with a link loop and a FIFO: both passed over (the FIFO, named like an
  // image, is counted as skipped; the link to a folder is not followed).
  test::write_labelled_pngs(dir.file("set"), 6);
  fs::create_directory_symlink(dir.file("set"), dir.file("set/images/loop"));
  REQUIRE(::mkfifo(dir.file("set/images/n001_99.png").c_str(), 0600) == 0);
  auto eval = test::run_cli({"eval", onnx, "--images", dir.file("set/images"), "--json"});
  CHECK(eval.exit_code == 0);
  CHECK(eval.out.find("\"images\": 6") != std::string::npos);
  // A truncated JPEG in an eval folder: skipped and counted with its reason, or accepted.
  test::write_bytes(dir.file("set/images/n002_50.jpg"), whole.substr(0, whole.size() / 2));
  auto skipped = test::run_cli({"eval", onnx, "--images", dir.file("set/images")});
  CHECK(skipped.exit_code == 0);
  CHECK(skipped.out.find("images 6 ") == 0);
  // The FIFO counts as skipped too (the first reason given), the truncated JPEG with it.
  CHECK(skipped.out.find("(2 skipped)") != std::string::npos);
  CHECK(skipped.err.find("skipped 2 image(s)") != std::string::npos);
  CHECK(skipped.err.find("FIFO") != std::string::npos);
  auto allowed = test::run_cli(
      {"eval", onnx, "--images", dir.file("set/images"), "--allow-truncated-images", "--json"});
  CHECK(allowed.out.find("\"images\": 7") != std::string::npos);
}

TEST_CASE("hostile files on the file system: devices, FIFOs, long names, wrong extensions") {
  test::TempDir dir;
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(test::tiny_squeezenet(8, 19, 3, 0.6)).value());
  // An output that is a FIFO (or a device) is never replaced, even with --force.
  const std::string fifo = dir.file("out.sqz");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto r = test::run_cli({"encode", onnx, "-o", fifo, "--force"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("not a regular file") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  // decode to Caffe writes both files or neither (here the .prototxt's path is a folder).
  REQUIRE(test::run_cli({"encode", onnx, "-o", dir.file("m.sqz")}).exit_code == 0);
  fs::create_directory(dir.file("both.prototxt"));
  auto both =
      test::run_cli({"decode", dir.file("m.sqz"), "-o", dir.file("both.caffemodel"), "--force"});
  CHECK(both.exit_code == 1);
  CHECK_FALSE(fs::exists(dir.file("both.caffemodel")));
  // A legal 250-byte file name.
  const std::string long_name = dir.file(std::string(246, 'n') + ".sqz");
  CHECK(test::run_cli({"encode", onnx, "-o", long_name}).exit_code == 0);
  CHECK(fs::exists(long_name));
  // .sqz bytes under another extension: a usage error, nothing written.
  CHECK(test::run_cli({"quantize", onnx, "-o", dir.file("x.onnx")}).exit_code == 2);
  CHECK_FALSE(fs::exists(dir.file("x.onnx")));
}

TEST_CASE("hostile names: escape sequences and invalid UTF-8 stay out of terminals and JSON") {
  test::TempDir dir;
  Model m = test::tiny_squeezenet(8, 19, 3, 0.6);
  m.layers[1].name = "relu\x1b[31m\nred\xff\xfe";
  const std::string onnx = dir.file("m.onnx");
  test::write_bytes(onnx, import::export_onnx(m).value());
  auto text = test::run_cli({"info", onnx});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find('\x1b') == std::string::npos);
  CHECK(text.out.find("relu\\x1b[31m\\x0ared\\xff\\xfe") != std::string::npos);
  auto json = test::run_cli({"info", onnx, "--json"});
  REQUIRE(json.exit_code == 0);
  nlohmann::json parsed;
  CHECK_NOTHROW(parsed = nlohmann::json::parse(json.out));
}

TEST_CASE("hostile models: limits that writers check as readers do, '@' in Caffe blob names") {
  // A name longer than a .sqz string: refused at validation, so no writer writes it.
  Model m = test::tiny_squeezenet(8, 19, 3, 0.6);
  m.layers[1].name = std::string(5000, 'a');
  std::string bytes;
  auto long_name = format::encode_sqz(m, {}, &bytes);
  REQUIRE_FALSE(long_name.is_ok());
  CHECK(long_name.status().message().find("longer than the limit") != std::string::npos);
  // Metadata longer than a .sqz string: refused, not cut.
  auto long_meta = format::encode_sqz(test::tiny_squeezenet(8, 19, 3, 0.6),
                                      {{{"k", std::string(5000, 'v')}}}, &bytes);
  CHECK(long_meta.status().code() == ErrorCode::kLimit);
  // 1000 calibration fingerprints: split over entries that each fit, none lost.
  std::string prints;
  for (int i = 0; i < 1000; ++i) {
    char hex[10];
    std::snprintf(hex, sizeof hex, "%08x", i * 2654435761u);
    prints += (i ? " " : "") + std::string(hex);
  }
  format::Metadata md;
  pipeline::add_calibration_fingerprints(prints, &md);
  CHECK(md.size() == 3);
  std::string joined;
  for (const auto& [k, v] : md) {
    CHECK(v.size() <= 4096);
    joined += (joined.empty() ? "" : " ") + v;
  }
  CHECK(joined == prints);
  REQUIRE(format::encode_sqz(test::tiny_squeezenet(8, 19, 3, 0.6), {md}, &bytes).is_ok());
  // A blob whose own name contains '@' is not merged with another by the Caffe exporter.
  test::TempDir dir;
  Model two = test::tiny_squeezenet(8, 19, 3, 0.6);
  for (Layer& l : two.layers) {
    for (std::string& in : l.inputs)
      if (in == "fire/relu_e3") in = "fire/relu_e1@fire/e3";
    if (l.output == "fire/relu_e3") l.output = "fire/relu_e1@fire/e3";
  }
  test::write_bytes(dir.file("two.caffemodel"), import::export_caffemodel(two).value());
  test::write_bytes(dir.file("two.prototxt"), import::export_caffe_prototxt(two).value());
  auto back = import::import_caffe(dir.file("two.prototxt"), dir.file("two.caffemodel"));
  REQUIRE(back.is_ok());
  std::mt19937 rng(4);
  const std::vector<float> x = test::random_floats(rng, 3 * 19 * 19);
  std::vector<float> want, got;
  auto net_a = runtime::Net::create(two, {}), net_b = runtime::Net::create(*back, {});
  REQUIRE(net_a.is_ok());
  REQUIRE(net_b.is_ok());
  REQUIRE((*net_a)->forward(x.data(), 1, &want).is_ok());
  REQUIRE((*net_b)->forward(x.data(), 1, &got).is_ok());
  CHECK(test::max_rel_diff(got, want) < 1e-5);
}

TEST_CASE("hostile calibration lists: only CRC32C are carried, ONNX refuses anything else") {
  // A .sqz entry with a 4000-character token and junk beside two CRCs: the carried list
  // holds the CRCs (a token that long once made the split loop forever).
  const format::Metadata from{{"calibration_images_crc32c",
                               std::string(4000, 'a') + " 0123abcd XYZ 0123ABCD ffffffff"}};
  format::Metadata to{{"producer", "test"}};
  pipeline::carry_calibration_fingerprints(from, &to);
  REQUIRE(to.size() == 2);
  CHECK(to[1].second == "0123abcd ffffffff");
  pipeline::carry_calibration_fingerprints(from, &to);  // nothing new: unchanged
  CHECK(to.size() == 2);
  // The ONNX exporter writes only the CRCs; the importer reads them back and refuses a list
  // that is anything else (named, one line).
  test::TempDir dir;
  const Model m = test::tiny_squeezenet(8, 19, 3, 0.6);
  auto onnx = import::export_onnx(m, from);
  REQUIRE(onnx.is_ok());
  test::write_bytes(dir.file("m.onnx"), *onnx);
  format::Metadata back;
  REQUIRE(import::import_onnx(dir.file("m.onnx"), {}, &back).is_ok());
  REQUIRE(back.size() == 1);
  CHECK(back[0].second == "0123abcd ffffffff");
  // Each the length of the good list, so that the protobuf framing stays valid.
  for (const char* bad : {"0123abcd Qfffffff", "0123abcdXffffffff", "0123ABCD ffffffff",
                          "0123abcd  fffffff", "0123abcd fffffff "}) {
    std::string bytes = *onnx;
    const size_t at = bytes.find("0123abcd ffffffff");
    REQUIRE(at != std::string::npos);
    bytes.replace(at, 17, bad);
    test::write_bytes(dir.file("bad.onnx"), bytes);
    INFO(bad);
    auto r = import::import_onnx(dir.file("bad.onnx"), {}, &back);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().message().find("not a list of CRC32C") != std::string::npos);
  }
}

TEST_CASE("hostile Caffe files: deep nesting, too many layers, weights no file pays for") {
  test::TempDir dir;
  // 100,000 levels of nested unknown messages: a parse error, not a stack overflow.
  std::string nested = "name: \"x\"\nfoo ";
  for (int i = 0; i < 100000; ++i) nested += "{ a ";
  test::write_bytes(dir.file("nested.prototxt"), nested);
  check_clean({"info", dir.file("nested.prototxt")}, dir.file("nested.prototxt"), "nesting");
  // 600,000 layers: past the size limit of a prototxt (and the layer limit).
  std::string many = "input: \"data\"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n";
  std::string prev = "data";
  for (int i = 0; i < 600000; ++i) {
    const std::string name = "r" + std::to_string(i);
    many += "layer { name: \"" + name + "\" type: \"ReLU\" bottom: \"" + prev + "\" top: \"" +
            name + "\" }\n";
    prev = name;
  }
  test::write_bytes(dir.file("many.prototxt"), many);
  check_clean({"info", dir.file("many.prototxt")}, dir.file("many.prototxt"), "600,000 layers");
  // A .net whose prototxt declares a layer of 2^37 weights, and one of 1.8M that its 4-entry
  // header cannot pay for.
  const std::string head =
      "input: \"data\"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 64\n"
      "input_dim: 64\nlayer { name: \"c\" type: \"Convolution\" bottom: "
      "\"data\" top: \"c\" convolution_param { ";
  test::write_bytes(dir.file("huge.prototxt"), head + "num_output: 65536 kernel_size: 64 } }\n");
  test::write_bytes(dir.file("unpaid.prototxt"), head + "num_output: 16384 kernel_size: 6 } }\n");
  std::string net(4, '\0');
  test::poke_u32(&net, 0, 4);
  net += std::string(256 * 4 + 16384 * 4 + 6, '\0');
  for (const char* p : {"huge", "unpaid"}) {
    test::write_bytes(dir.file(std::string(p) + ".net"), net);
    check_clean({"info", dir.file(std::string(p) + ".net"), "--prototxt",
                 dir.file(std::string(p) + ".prototxt")},
                dir.file(std::string(p) + ".net"), p, dir.file(std::string(p) + ".prototxt"));
  }
  auto unpaid =
      test::run_cli({"info", dir.file("unpaid.net"), "--prototxt", dir.file("unpaid.prototxt")});
  CHECK(unpaid.err.find("stored entries") != std::string::npos);
}

TEST_CASE("every command under a small address-space cap: one line, never an abort") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipped under AddressSanitizer (its shadow memory needs the address space)");
#else
  test::TempDir dir;
  // Valid, but its activations need ~320 MiB: past a 300 MiB address space once the budget is
  // raised, so the allocation itself fails inside the tool.
  std::string big;
  for (const auto& [name, bytes] : test::hostile_sqz_files())
    if (name == "input_4096x4096") big = bytes;
  REQUIRE_FALSE(big.empty());
  const std::string model = dir.file("big.sqz");
  test::write_bytes(model, big);
  test::write_labelled_pngs(dir.file("set"), 2);
  const std::string in = dir.file("in.f32");
  test::write_bytes(in, std::string(size_t{3} * 4096 * 4096 * 4, '\0'));
  const std::vector<std::vector<std::string> > commands = {
      {"info", model},
      {"run", model, "--input-tensor", in, "--output-tensor", dir.file("o.f32")},
      {"eval", model, "--images", dir.file("set/images")},
      {"bench", model, "--runs", "1"},
      {"quantize", model, "--bits", "4", "-o", dir.file("q.sqz")},
      {"encode", model, "-o", dir.file("e.sqz")},
      {"decode", model, "-o", dir.file("d.onnx")},
      {"prune", model, "--density", "0.5", "-o", dir.file("p.sqz")},
      {"sensitivity", model, "--images", dir.file("set/images"), "-o", dir.file("sens")},
      {"report", model, "--images", dir.file("set/images")},
      {"compress", model, "--bits", "4", "--calib", dir.file("set/images"), "--calib-steps", "1",
       "-o", dir.file("c.sqz")}};
  const std::set<std::string> plan_no_network = {"info", "quantize", "encode", "decode", "prune"};
  for (std::vector<std::string> c : commands) {
    if (!plan_no_network.count(c[0])) c.insert(c.begin() + 1, {"--max-memory", "4000"});
    std::vector<std::string> argv{SQZ_CLI_PATH};
    argv.insert(argv.end(), c.begin(), c.end());
    const test::CappedRun r = test::run_capped(argv, 300, kTimeCap);
    INFO(c[0] << ": exit " << r.exit_code << ", signal " << r.signal << "; stderr: " << r.err);
    CHECK(r.signal == 0);
    CHECK_FALSE(r.timed_out);
    CHECK((r.exit_code == 0 || r.exit_code == 1));
    // The error is the last line (compress and report print their stages and notes before).
    const size_t last = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
    if (r.exit_code == 1)
      CHECK(r.err.compare(last == std::string::npos ? 0 : last + 1, 25,
                          "squeeze-compress: error: ") == 0);
  }
#endif
}
