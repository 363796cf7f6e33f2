// Tests on the real SqueezeNet in ../shared. Without it, exit 77: ctest reports "skipped".
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "test_util.h"

int main(int argc, char** argv) {
  if (sqz::test::shared_dir().empty()) {
    std::printf(
        "SKIPPED: ../shared (the real SqueezeNet and ImageNet samples) is absent; "
        "set SQZ_SHARED=DIR to point at it\n");
    return 77;
  }
  return doctest::Context(argc, argv).run();
}
