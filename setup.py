"""Builds squeeze_compress's compiled module with the project's CMake build for pip.

The build folder is $SQZ_BUILD_DIR (default build/, shared with scripts/build.sh, so that an
existing build is reused), configured with SQZ_PYTHON=ON for this interpreter."""
import importlib.machinery
import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = pathlib.Path(os.environ.get("SQZ_BUILD_DIR", ROOT / "build"))
        configure = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DSQZ_PYTHON=ON"]
        if not (build / "CMakeCache.txt").exists():
            # The interpreter a venv was made from (the module is the same for both); an
            # existing build keeps its own, checked below.
            configure.append(f"-DPython_EXECUTABLE={getattr(sys, '_base_executable', sys.executable)}")
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", str(build), "--target", "_core", "-j", str(os.cpu_count() or 1)])
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        built = build / "python" / "squeeze_compress" / f"_core{suffix}"
        if not built.exists():
            sys.exit(f"setup.py: {build} builds the module for another Python (no _core{suffix}); "
                     "set SQZ_BUILD_DIR to a fresh folder")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    packages=["squeeze_compress"],
    package_dir={"": "python"},
    package_data={"squeeze_compress": ["_core.pyi", "py.typed"]},
    ext_modules=[Extension("squeeze_compress._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
