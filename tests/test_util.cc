#include "test_util.h"

#include <png.h>
// jpeglib.h needs <cstdio> first.
#include <cstdio>
#include <jpeglib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sqz/core/byte_io.h"

namespace sqz::test {
namespace {

Layer conv(const std::string& name, const std::string& in, int64_t cin, int64_t cout, int64_t k,
           int64_t stride, int64_t pad, std::mt19937& rng, double density) {
  Layer l = make_conv(name, in, cin, cout, k, stride, pad);
  l.weight.data = random_floats(rng, l.weight.data.size(), -0.5f, 0.5f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (float& w : l.weight.data)
    if (u(rng) >= density) w = 0.0f;
  l.bias.data = random_floats(rng, l.bias.data.size(), -0.1f, 0.1f);
  return l;
}

Layer simple(const std::string& name, OpKind op, const std::string& in) {
  return make_layer(op, name, in);
}

}  // namespace

Model with_bypass(Model m, uint32_t seed) {
  std::mt19937 rng(seed);
  Layer shortcut = make_conv("bypass", "pool1", 8, 12, 1, 1, 0);
  shortcut.weight.data = test::random_floats(rng, shortcut.weight.data.size(), -0.3f, 0.3f);
  shortcut.bias.data = test::random_floats(rng, shortcut.bias.data.size(), -0.1f, 0.1f);
  Layer sum = make_layer(OpKind::kAdd, "fire/sum", "fire/concat");
  sum.inputs.push_back("bypass");
  for (size_t i = 0; i < m.layers.size(); ++i)
    if (m.layers[i].name == "drop") {
      m.layers[i].inputs = {"fire/sum"};
      m.layers.insert(m.layers.begin() + static_cast<std::ptrdiff_t>(i), {shortcut, sum});
      break;
    }
  return m;
}

double max_rel_diff(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0, peak = 1e-6;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(double{want[i]} - got[i]));
    peak = std::max(peak, std::fabs(double{want[i]}));
  }
  return err / peak;
}

std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Model tiny_squeezenet(uint32_t seed, int64_t in_size, int64_t classes, double density) {
  std::mt19937 rng(seed);
  Model m;
  m.name = "tiny";
  m.input = "data";
  m.input_shape = {1, 3, in_size, in_size};
  m.layers.push_back(conv("conv1", "data", 3, 8, 7, 2, 0, rng, density));
  m.layers.push_back(simple("relu1", OpKind::kRelu, "conv1"));
  Layer pool = simple("pool1", OpKind::kMaxPool, "relu1");
  pool.pool.kernel_h = pool.pool.kernel_w = 3;
  pool.pool.stride_h = pool.pool.stride_w = 2;
  m.layers.push_back(pool);
  m.layers.push_back(conv("fire/squeeze", "pool1", 8, 4, 1, 1, 0, rng, density));
  m.layers.push_back(simple("fire/relu_s", OpKind::kRelu, "fire/squeeze"));
  m.layers.push_back(conv("fire/e1", "fire/relu_s", 4, 6, 1, 1, 0, rng, density));
  m.layers.push_back(simple("fire/relu_e1", OpKind::kRelu, "fire/e1"));
  m.layers.push_back(conv("fire/e3", "fire/relu_s", 4, 6, 3, 1, 1, rng, density));
  m.layers.push_back(simple("fire/relu_e3", OpKind::kRelu, "fire/e3"));
  Layer cat;
  cat.name = "fire/concat";
  cat.op = OpKind::kConcat;
  cat.inputs = {"fire/relu_e1", "fire/relu_e3"};
  cat.output = "fire/concat";
  m.layers.push_back(cat);
  m.layers.push_back(simple("drop", OpKind::kDropout, "fire/concat"));
  m.layers.push_back(conv("conv_final", "drop", 12, classes, 1, 1, 1, rng, density));
  m.layers.push_back(simple("relu_final", OpKind::kRelu, "conv_final"));
  Layer gap = simple("pool_final", OpKind::kAvgPool, "relu_final");
  gap.pool.global = true;
  m.layers.push_back(gap);
  m.output = "pool_final";
  return m;
}

Model uniform_1x1(int64_t in_channels, int64_t out_channels, int64_t size, float weight) {
  Model m;
  m.input = "data";
  m.input_shape = {1, in_channels, size, size};
  m.layers.push_back(make_conv("c", "data", in_channels, out_channels, 1, 1, 0));
  for (float& w : m.layers[0].weight.data) w = weight;
  m.output = "c";
  return m;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sqz-test-XXXXXX").string();
  path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::vector<std::string>& args) {
  TempDir dir;
  std::string cmd = "'" SQZ_CLI_PATH "'";
  for (const std::string& a : args) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + q + "'";
  }
  cmd += " >" + dir.file("out") + " 2>" + dir.file("err") + " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(dir.file("out"));
  r.err = read_bytes(dir.file("err"));
  return r;
}

std::string shell_first_line(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return "";
  char buf[256] = {0};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  return got ? std::string(buf) : std::string();
}

std::string encode_release_net(const Model& model) {
  std::string header, body;
  for (const Layer& l : model.layers) {
    if (l.op != OpKind::kConvolution) continue;
    std::vector<float> codebook{0.0f};
    std::map<float, uint8_t> code_of;
    for (float w : l.weight.data)
      if (w != 0.0f && !code_of.count(w)) {
        code_of[w] = static_cast<uint8_t>(codebook.size());
        codebook.push_back(w);
      }
    codebook.resize(256, 0.0f);
    std::vector<uint8_t> codes, gaps;
    int64_t last = -1;
    for (int64_t p = 0; p < static_cast<int64_t>(l.weight.data.size()); ++p) {
      if (l.weight.data[p] == 0.0f) continue;
      while (p - last - 1 > 15) {  // filler zero
        last += 16;
        codes.push_back(0);
        gaps.push_back(15);
      }
      gaps.push_back(static_cast<uint8_t>(p - last - 1));
      codes.push_back(code_of[l.weight.data[p]]);
      last = p;
    }
    put_u32(&header, static_cast<uint32_t>(codes.size()));
    for (float c : codebook) put_f32(&body, c);
    for (float b : l.bias.data) put_f32(&body, b);
    body.append(codes.begin(), codes.end());
    for (size_t i = 0; i < gaps.size(); i += 2)
      put_u8(&body, static_cast<uint8_t>(gaps[i] | ((i + 1 < gaps.size() ? gaps[i + 1] : 0) << 4)));
  }
  return header + body;
}

void write_png(const std::string& path, int w, int h, uint32_t seed) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((x * (c + 1) + y * (seed % 7 + 1) + seed * 37) & 0xFF);
  write_png_pixels(path, w, h, 3, rgb.data());
}

std::string jpeg_bytes(int w, int h, uint32_t seed, bool progressive) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 7 + seed * 13 + i / 97) & 0xFF);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = rgb.data() + static_cast<size_t>(c.next_scanline) * w * 3;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<char*>(buf), size);
  std::free(buf);
  return out;
}

void write_png_pixels(const std::string& path, int w, int h, int channels, const uint8_t* pixels) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_image_write_to_file(&img, path.c_str(), 0, pixels, 0, nullptr);
}

void write_labelled_pngs(const std::string& dir, int n) {
  std::filesystem::create_directories(dir + "/images");
  write_bytes(dir + "/synsets.txt", "n001 zero\nn002 one\nn003 two\n");
  for (int i = 0; i < n; ++i)
    write_png(dir + "/images/n00" + std::to_string(1 + i % 3) + "_" + std::to_string(10 + i) + ".png",
              40 + i, 36 + i % 5, static_cast<uint32_t>(i));
}

std::string shared_dir() {
  const char* env = std::getenv("SQZ_SHARED");
  std::string dir = env ? env : SQZ_DEFAULT_SHARED_DIR;
  std::error_code ec;
  return std::filesystem::is_directory(dir + "/models", ec) ? dir : "";
}

}  // namespace sqz::test
