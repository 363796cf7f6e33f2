// jpeglib.h needs <cstdio> (FILE) first.
// clang-format off
#include <csetjmp>
#include <cstdio>
#include <cstring>
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
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_silence(j_common_ptr, int) {}

// Plain-data state only between setjmp and longjmp: no destructors are skipped.
Status decode_jpeg(const std::string& bytes, const std::string& name, Image* out) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_silence;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return Status(ErrorCode::kParse, name + ": JPEG does not decode: " + err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.image_width > kMaxSide || cinfo.image_height > kMaxSide || cinfo.num_components == 4) {
    jpeg_destroy_decompress(&cinfo);
    return Status(cinfo.num_components == 4 ? ErrorCode::kUnsupported : ErrorCode::kLimit,
                  name + (cinfo.num_components == 4 ? ": CMYK JPEG is not supported"
                                                    : ": image is larger than 16384 pixels"));
  }
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int>(cinfo.output_width);
  out->height = static_cast<int>(cinfo.output_height);
  out->rgb.resize(static_cast<size_t>(out->width) * out->height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->rgb.data() + static_cast<size_t>(cinfo.output_scanline) * out->width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return Status::ok();
}

Status decode_png(const std::string& bytes, const std::string& name, Image* out) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    return Status(ErrorCode::kParse, name + ": PNG does not decode: " + img.message);
  if (img.width > kMaxSide || img.height > kMaxSide) {
    png_image_free(&img);
    return Status(ErrorCode::kLimit, name + ": image is larger than 16384 pixels");
  }
  img.format = PNG_FORMAT_RGB;
  out->width = static_cast<int>(img.width);
  out->height = static_cast<int>(img.height);
  out->rgb.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out->rgb.data(), 0, nullptr)) {
    Status s(ErrorCode::kParse, name + ": PNG does not decode: " + img.message);
    png_image_free(&img);
    return s;
  }
  return Status::ok();
}

}  // namespace

Result<Image> decode_image(const std::string& bytes, const std::string& name) {
  Image img;
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    SQZ_RETURN_IF_ERROR(decode_jpeg(bytes, name, &img));
  } else if (bytes.size() >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) {
    SQZ_RETURN_IF_ERROR(decode_png(bytes, name, &img));
  } else {
    return Status(ErrorCode::kUnsupported, name + ": not a JPEG or PNG image");
  }
  if (img.width < 1 || img.height < 1)
    return Status(ErrorCode::kCorrupt, name + ": image has no pixels");
  return img;
}

Result<Image> decode_image_file(const std::string& path) {
  SQZ_ASSIGN_OR_RETURN(std::string bytes, read_file(path, size_t{256} << 20));
  return decode_image(bytes, path);
}

}  // namespace sqz::image
