# Lease engine tests (lease/src/lease*.c, renewer.c, election.c, leasectl).
# Unit tests reach lease/src/lease_internal.h for the pure timing rules.
foreach(t lease_timing lease_heap)
  leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_lease)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR}/lease/src)
endforeach()
