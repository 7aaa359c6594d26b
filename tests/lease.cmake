# Lease engine tests (lease/src/lease*.c, renewer.c, election.c, leasectl).
# Unit tests reach lease/src/lease_internal.h for the pure timing rules.
foreach(t lease_timing lease_heap lease_options)
  leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_lease)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/lease/src)
endforeach()

# The renewal pool against a fake service (libmicrohttpd) that counts the
# renewals in flight at once.
leasehold_test(NAME test_lease_renewer LABEL unit
  SOURCES unit/test_lease_renewer.c unit/blob_test_server.c
  LIBS leasehold_lease PkgConfig::MHD)
target_include_directories(test_lease_renewer PRIVATE ${PROJECT_SOURCE_DIR})

# Integration (real Azurite). Each test program makes its own containers.
add_library(lease_test_util STATIC integration/lease_test_util.c)
target_link_libraries(lease_test_util PUBLIC leasehold_lease PkgConfig::CMOCKA Threads::Threads)
leasehold_test(NAME test_lease_azurite LABEL integration TIMEOUT 240
  SOURCES integration/test_lease_azurite.c LIBS lease_test_util)
leasehold_test(NAME test_lease_soak LABEL integration TIMEOUT 240
  SOURCES integration/test_lease_soak.c LIBS lease_test_util)
# The soak asserts that no renewal ever comes late. Beside a TSan-instrumented
# Kafka client on 2 cores, a renewal was once starved past the safe deadline
# (the engine then rightly reported the lease lost): give it the machine.
set_tests_properties(test_lease_soak PROPERTIES RUN_SERIAL TRUE)
leasehold_test(NAME test_lease_many LABEL integration TIMEOUT 400
  SOURCES integration/test_lease_many.c LIBS lease_test_util)
# 2,000 leases need ~290 renewals/s, close to what one single-threaded Azurite
# serves on 2 cores: run it alone so other tests' traffic cannot starve it.
set_tests_properties(test_lease_many PROPERTIES RUN_SERIAL TRUE)
leasehold_test(NAME test_lease_election LABEL integration TIMEOUT 300
  SOURCES integration/test_lease_election.c LIBS lease_test_util)
add_dependencies(test_lease_election leasectl)
leasehold_test(NAME test_lease_faults LABEL integration TIMEOUT 120
  SOURCES integration/test_lease_faults.c LIBS lease_test_util)
target_include_directories(test_lease_faults PRIVATE ${PROJECT_SOURCE_DIR})

# Timings (not a test): build/tests/bench_lease [LEASES [HOLD_SECONDS [THREADS [DURATION_SECONDS]]]].
add_executable(bench_lease bench/bench_lease.c)
target_link_libraries(bench_lease PRIVATE leasehold_lease)
set_target_properties(bench_lease PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
# The original sample's pattern (lease, read, write, release per command), not
# a test: build/tests/bench_baseline --products N --commands N --threads T [--hot] [--raw].
# It counts the requests it sends through lease/src/blob_internal.h.
add_executable(bench_baseline bench/bench_baseline.c)
target_link_libraries(bench_baseline PRIVATE leasehold_lease Threads::Threads)
target_include_directories(bench_baseline PRIVATE ${PROJECT_SOURCE_DIR})
set_target_properties(bench_baseline PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# leasectl's operator commands (Python, like the other CLI tests).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  leasehold_test(NAME test_leasectl LABEL integration TIMEOUT 120
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_leasectl.py)
  set_tests_properties(test_leasectl PROPERTIES SKIP_RETURN_CODE 77)
endif()
