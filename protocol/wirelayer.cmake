# protocol/wirelayer.cmake — the hand-written wire layer around the generated
# codec: frames, CRC-32C, record batch v2, compression codecs; their unit tests,
# golden-bytes tests and the record batch fuzzer. Included from
# protocol/CMakeLists.txt.
# Relative names (this file is included from protocol/CMakeLists.txt), so other
# folders can test for them in sl_protocol's SOURCES (bench/parts_bench does).
target_sources(sl_protocol PRIVATE
  frame.c
  crc32c.c
  compress.c
  record_batch.c
  record_verify.c
  record_build.c
)
target_link_libraries(sl_protocol PUBLIC PkgConfig::ZLIB PkgConfig::LZ4 PkgConfig::ZSTD sl_snappy)

set(_wl ${CMAKE_CURRENT_LIST_DIR})
sl_add_unit_test(NAME test_frame SOURCES ${_wl}/tests/test_frame.c LIBS sl_protocol TIMEOUT 60)
sl_add_unit_test(NAME test_crc32c SOURCES ${_wl}/tests/test_crc32c.c LIBS sl_protocol TIMEOUT 120)
sl_add_unit_test(NAME test_compress SOURCES ${_wl}/tests/test_compress.c LIBS sl_protocol TIMEOUT 120)
sl_add_unit_test(NAME test_record_batch SOURCES ${_wl}/tests/test_record_batch.c LIBS sl_protocol
  TIMEOUT 120)

# Golden frames captured from real clients (tests/golden/capture_all.py).
sl_add_unit_test(NAME test_golden_batches SOURCES ${_wl}/tests/test_golden_batches.c
  LIBS sl_protocol TIMEOUT 120)
target_compile_definitions(test_golden_batches PRIVATE SL_GOLDEN_DIR="${_wl}/tests/golden")
sl_add_unit_test(NAME test_golden_requests SOURCES ${_wl}/tests/test_golden_requests.c
  LIBS sl_protocol TIMEOUT 120)
target_compile_definitions(test_golden_requests PRIVATE SL_GOLDEN_DIR="${_wl}/tests/golden")

# Record batch fuzzer, seeded with the golden client batches.
sl_add_fuzzer(NAME fuzz_record_batch SOURCES ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_record_batch.c
  LIBS sl_protocol CORPUS ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/record_batch)
