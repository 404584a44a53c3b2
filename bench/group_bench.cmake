# bench/group_bench.cmake — consumer-group figures of issue 5 (bench/group_bench.py):
# rebalance time when a third member joins a 6-partition group, beside the clients'
# heartbeat round trip and group.initial.rebalance.delay.ms; OffsetCommit of 1,000
# partitions p50/p99 (durable answers) beside fio's write+fdatasync p99, same run.
# `cmake --build B --target group_bench` runs it against B's serpentlog (use a Release
# build: sanitizer timings mean nothing). ctest runs only bench_group_smoke: tiny
# counts, checks that every step works, no timing threshold.
if(TARGET serpentlog)
  add_custom_target(group_bench
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/group_bench.py $<TARGET_FILE:serpentlog>
    USES_TERMINAL VERBATIM)
  add_dependencies(group_bench serpentlog)
  add_test(NAME bench_group_smoke
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/group_bench.py $<TARGET_FILE:serpentlog>
            --quick --no-strace)
  set_tests_properties(bench_group_smoke PROPERTIES LABELS integration TIMEOUT 120)
endif()
