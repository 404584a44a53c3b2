# bench/crc32c_bench.cmake — CRC-32C throughput bench (protocol/crc32c.c);
# built so it stays compilable, run by hand: build-x/bench/crc32c_bench.
add_executable(crc32c_bench ${CMAKE_CURRENT_LIST_DIR}/crc32c_bench.c)
target_link_libraries(crc32c_bench PRIVATE sl_protocol)
