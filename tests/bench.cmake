# The benchmark (label bench): tests/bench/run_benchmarks.py writes
# docs/benchmarks.md. Never part of the normal suite: deploy/local/test (and
# so CI) runs ctest with -LE bench unless given a label of its own. Run it
# with deploy/local/bench, or `ctest -L bench` in a build folder.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  leasehold_test(NAME run_benchmarks LABEL bench TIMEOUT 7200
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bench/run_benchmarks.py
    ARGS --build ${CMAKE_BINARY_DIR})
  # Needs the shared Kafka (the fixture); starts its own Azurites. Alone, so
  # no other test's load lands in its figures.
  set_tests_properties(run_benchmarks PROPERTIES FIXTURES_REQUIRED services RUN_SERIAL TRUE)
endif()
