# bench/storage_bench.cmake — storage/ figures (append vs fio, chain share,
# group commit vs fio's fdatasync rate, open time); run by hand:
#   build-x/bench/storage_bench /path/on/disk/under/test
if(TARGET sl_storage)
  add_executable(storage_bench ${CMAKE_CURRENT_LIST_DIR}/storage_bench.c)
  target_link_libraries(storage_bench PRIVATE sl_storage PkgConfig::XXHASH Threads::Threads)
endif()
