# Lease engine tests (lease/src/lease*.c, renewer.c, election.c, leasectl).
# Unit tests reach lease/src/lease_internal.h for the pure timing rules.
foreach(t lease_timing lease_heap)
  leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_lease)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/lease/src)
endforeach()

# Integration (real Azurite). Each test program makes its own containers.
add_library(lease_test_util STATIC integration/lease_test_util.c)
target_link_libraries(lease_test_util PUBLIC leasehold_lease PkgConfig::CMOCKA Threads::Threads)
leasehold_test(NAME test_lease_azurite LABEL integration TIMEOUT 240
  SOURCES integration/test_lease_azurite.c LIBS lease_test_util)
