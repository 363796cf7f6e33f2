// jpeglib.h needs <cstdio> (FILE) first.
// clang-format off
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <jpeglib.h>
#include <png.h>
// clang-format on

#include "sqz/core/file_io.h"
#include "sqz/image/image.h"

namespace sqz::image {
namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];  // the first warning (a truncated or corrupt file)
  bool warned;
  jpeg_progress_mgr progress;
  int max_scans;
  bool too_many_scans;
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Level -1 is a warning (libjpeg's "premature end of data", "corrupt data"); others are
// trace messages.
void jpeg_note_warning(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (level != -1 || err->warned) return;
  err->warned = true;
  (*cinfo->err->format_message)(cinfo, err->warning);
}

// A progressive JPEG can carry thousands of tiny scans, each a pass over the whole image: stop
// after max_scans (libjpeg-turbo's djpeg -maxscans).
void jpeg_count_scans(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > err->max_scans) {
    err->too_many_scans = true;
    std::snprintf(err->message, sizeof err->message, "more than %d scans", err->max_scans);
    std::longjmp(err->jump, 1);
  }
}

// CMYK as libjpeg gives it (Adobe's convention: stored inverted, 255 = no ink) to RGB as
// PIL converts it (Image.convert("RGB"), which torchvision's ImageFolder loader calls):
// r = (255 - k) - (255 - k) c / 255 with c, k the ink, rounded as PIL's MULDIV255.
void cmyk_to_rgb(const unsigned char* cmyk, int width, unsigned char* rgb) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - k
    for (int ch = 0; ch < 3; ++ch) {
      const int t = (255 - cmyk[ch]) * nk + 128;
      rgb[ch] = static_cast<unsigned char>(std::clamp(nk - ((t + (t >> 8)) >> 8), 0, 255));
    }
  }
}

Status over_budget(const std::string& name, int64_t w, int64_t h, const DecodeOptions& o) {
  if (w <= kMaxSide && h <= kMaxSide && w * h <= o.max_pixels) return Status::ok();
  return Status(ErrorCode::kLimit, name + ": image of " + std::to_string(w) + "x" +
                                       std::to_string(h) + " pixels is beyond the limit of " +
                                       std::to_string(o.max_pixels) + " pixels and " +
                                       std::to_string(kMaxSide) + " per side");
}

// Plain-data state only between setjmp and longjmp: no destructors are skipped.
Status decode_jpeg(const std::string& bytes, const std::string& name, const DecodeOptions& o,
                   Image* out) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_note_warning;
  err.warned = err.too_many_scans = false;
  err.max_scans = o.max_scans;
  err.progress.progress_monitor = jpeg_count_scans;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return Status(err.too_many_scans ? ErrorCode::kLimit : ErrorCode::kParse,
                  name + ": JPEG does not decode: " + err.message);
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &err.progress;
  // Coefficient buffers of progressive images: within the pixel budget's order of magnitude.
  cinfo.mem->max_memory_to_use = static_cast<long>(std::min<int64_t>(o.max_pixels * 8, 1L << 30));
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  Status budget = over_budget(name, cinfo.image_width, cinfo.image_height, o);
  if (!budget.is_ok()) {
    jpeg_destroy_decompress(&cinfo);
    return budget;
  }
  // Four components: CMYK or YCCK (libjpeg gives both as CMYK), converted below.
  const bool cmyk = cinfo.num_components == 4;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  // A CMYK row is read into 4 * width bytes past the image (out's own buffer, so that no
  // object of this frame outlives a longjmp), then converted into its RGB row.
  const size_t pixels = static_cast<size_t>(out->width) * out->height;
  out->rgb.resize(pixels * 3 + (cmyk ? static_cast<size_t>(out->width) * 4 : 0));
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char* rgb = out->rgb.data() + static_cast<size_t>(cinfo.output_scanline) * out->width * 3;
    JSAMPROW row = cmyk ? out->rgb.data() + pixels * 3 : rgb;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk) cmyk_to_rgb(row, out->width, rgb);
  }
  out->rgb.resize(pixels * 3);
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.warned && !o.allow_truncated)
    return Status(ErrorCode::kCorrupt, name + ": JPEG is truncated or corrupt (" + err.warning +
                                           "; `allow_truncated_images` accepts it)");
  return Status::ok();
}

// The PNG with its colour-space chunks (gAMA, cHRM, sRGB, iCCP: ancillary) replaced by one sRGB
// chunk after IHDR, so that libpng's simplified reader keeps the stored values as PIL does (it
// ignores the chunks) instead of converting a gamma of, say, 1.0 to sRGB, and reads 16-bit
// samples as encoded like 8-bit ones (value / 257), not as linear light (libpng's assumption
// for a 16-bit file that says nothing). A stream whose chunks do not parse is returned as it
// is, for libpng to refuse.
std::string as_srgb_png(const std::string& bytes) {
  constexpr size_t kSignature = 8;
  static const char kSrgbChunk[] = "\x00\x00\x00\x01sRGB\x00\xae\xce\x1c\xe9";  // intent 0, CRC
  std::string out = bytes.substr(0, std::min(bytes.size(), kSignature));
  for (size_t at = kSignature; at < bytes.size();) {
    if (bytes.size() - at < 12) return bytes;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const size_t length = size_t{p[0]} << 24 | size_t{p[1]} << 16 | size_t{p[2]} << 8 | p[3];
    if (length > bytes.size() - at - 12) return bytes;
    const std::string type = bytes.substr(at + 4, 4);
    if (type != "gAMA" && type != "cHRM" && type != "sRGB" && type != "iCCP")
      out.append(bytes, at, length + 12);
    if (at == kSignature && type == "IHDR") out.append(kSrgbChunk, sizeof kSrgbChunk - 1);
    at += length + 12;
  }
  return out;
}

Status decode_png(const std::string& file_bytes, const std::string& name, const DecodeOptions& o,
                  Image* out) {
  const std::string bytes = as_srgb_png(file_bytes);
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    return Status(ErrorCode::kParse, name + ": PNG does not decode: " + img.message);
  if (Status s = over_budget(name, img.width, img.height, o); !s.is_ok()) {
    png_image_free(&img);
    return s;
  }
  // Read with alpha, then drop it: PIL's convert("RGB") (torchvision's loader) keeps the
  // stored colours of transparent pixels, where libpng reading to RGB would composite them
  // onto black.
  img.format = PNG_FORMAT_RGBA;
  out->width = static_cast<int>(img.width);
  out->height = static_cast<int>(img.height);
  out->rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out->rgb.data(), 0, nullptr)) {
    Status s(ErrorCode::kParse, name + ": PNG does not decode: " + img.message);
    png_image_free(&img);
    return s;
  }
  const size_t pixels = static_cast<size_t>(out->width) * out->height;
  for (size_t i = 0; i < pixels; ++i)
    for (int ch = 0; ch < 3; ++ch) out->rgb[3 * i + ch] = out->rgb[4 * i + ch];
  out->rgb.resize(pixels * 3);
  return Status::ok();
}

}  // namespace

Result<Image> decode_image(const std::string& bytes, const std::string& name,
                           const DecodeOptions& options) {
  Image img;
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    SQZ_RETURN_IF_ERROR(decode_jpeg(bytes, name, options, &img));
  } else if (bytes.size() >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) {
    SQZ_RETURN_IF_ERROR(decode_png(bytes, name, options, &img));
  } else {
    return Status(ErrorCode::kUnsupported, name + ": not a JPEG or PNG image");
  }
  if (img.width < 1 || img.height < 1)
    return Status(ErrorCode::kCorrupt, name + ": image has no pixels");
  return img;
}

Result<Image> decode_image_file(const std::string& path, const DecodeOptions& options) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes,
                       read_file(path, static_cast<size_t>(options.max_file_bytes)));
  return decode_image(bytes, path, options);
}

}  // namespace sqz::image
