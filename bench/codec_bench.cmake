# bench/codec_bench.cmake — generated Kafka codec throughput (protocol/gen/):
# Produce v9 decode + re-encode and Fetch v12 encode of 1 MiB frames; built so it
# stays compilable, run by hand: build-x/bench/codec_bench [iterations].
add_executable(codec_bench ${CMAKE_CURRENT_LIST_DIR}/codec_bench.c)
target_link_libraries(codec_bench PRIVATE sl_protocol)
