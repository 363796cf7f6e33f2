# cmake --install: the libraries with their headers, the CLI, and a package config so that a
# C++ program can find_package(SqueezeCompress) and link sqz::runtime, sqz::pipeline, ...
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SQZ_INSTALLED_LIBRARIES core huffman format import prune quantize kernels image runtime train
    report pipeline)
foreach(name ${SQZ_INSTALLED_LIBRARIES})
  set_target_properties(sqz_${name} PROPERTIES EXPORT_NAME ${name})
  add_library(sqz::${name} ALIAS sqz_${name})
  list(APPEND SQZ_INSTALLED_TARGETS sqz_${name})
endforeach()

install(TARGETS ${SQZ_INSTALLED_TARGETS} EXPORT SqueezeCompressTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS squeeze-compress RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir core/include huffman/include format/include import/include prune/include
            quantize/include kernels/include image/include runtime/include train/include
            report/include pipeline/include ${PROJECT_BINARY_DIR}/generated/include)
  if(NOT IS_ABSOLUTE ${dir})
    set(dir ${PROJECT_SOURCE_DIR}/${dir})
  endif()
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
endforeach()

set(SQZ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/SqueezeCompress)
install(EXPORT SqueezeCompressTargets NAMESPACE sqz:: DESTINATION ${SQZ_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/SqueezeCompressConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SqueezeCompressConfig.cmake INSTALL_DESTINATION ${SQZ_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SqueezeCompressConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SqueezeCompressConfig.cmake
              ${PROJECT_BINARY_DIR}/SqueezeCompressConfigVersion.cmake
        DESTINATION ${SQZ_CMAKE_DIR})
