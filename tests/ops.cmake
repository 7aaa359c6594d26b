# Tests of the ops area: metrics registry (common/metrics.c), the worker's
# admin HTTP endpoint and the reconciler (worker/admin_http.c,
# worker/reconciler.c). The worker sources are compiled straight into the
# test executables so these tests do not depend on the worker's targets.
leasehold_test(NAME test_metrics LABEL unit SOURCES unit/test_metrics.c LIBS leasehold_common)

if(TARGET leasehold_schemas)
  # blob_get is replaced by an in-memory fake (--wrap), so no storage is needed.
  leasehold_test(NAME test_admin_http LABEL unit
    SOURCES unit/test_admin_http.c ${PROJECT_SOURCE_DIR}/worker/admin_http.c
    LIBS leasehold_common leasehold_schemas PkgConfig::MHD PkgConfig::CURL PkgConfig::JANSSON)
  target_include_directories(test_admin_http PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_options(test_admin_http PRIVATE -Wl,--wrap=blob_get)
endif()

# The reconciler needs the lease engine (election) and librdkafka.
if(TARGET leasehold_schemas AND TARGET leasehold_lease)
  leasehold_test(NAME test_reconciler_azurite_kafka LABEL integration
    SOURCES integration/test_reconciler.c integration/test_reconciler_support.c
            ${PROJECT_SOURCE_DIR}/worker/reconciler.c
    LIBS leasehold_common leasehold_schemas leasehold_lease PkgConfig::RDKAFKA PkgConfig::CURL)
  target_include_directories(test_reconciler_azurite_kafka PRIVATE ${PROJECT_SOURCE_DIR})

  # Unit variant: storage wrapped in memory, Kafka from librdkafka's mock cluster.
  leasehold_test(NAME test_reconciler LABEL unit
    SOURCES unit/test_reconciler.c integration/test_reconciler_support.c
            ${PROJECT_SOURCE_DIR}/worker/reconciler.c
    LIBS leasehold_common leasehold_schemas leasehold_lease PkgConfig::RDKAFKA)
  target_include_directories(test_reconciler PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_options(test_reconciler PRIVATE -Wl,--wrap=blob_list_items,--wrap=blob_get)
endif()

# Two real workers: SIGKILL the reconciler's leader, the survivor sweeps.
if(TARGET inventory-worker AND TARGET inventory-producer)
  leasehold_test(NAME test_reconciler_failover LABEL integration TIMEOUT 300
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_reconciler_failover.py)
endif()

# Timings (not a test), workload W5:
#   build/tests/bench_reconciler PRODUCTS DUE [THREADS]
if(TARGET leasehold_schemas AND TARGET leasehold_lease)
  add_executable(bench_reconciler bench/bench_reconciler.c ${PROJECT_SOURCE_DIR}/worker/reconciler.c)
  target_link_libraries(bench_reconciler PRIVATE leasehold_common leasehold_schemas leasehold_lease
    PkgConfig::RDKAFKA PkgConfig::CURL Threads::Threads)
  target_include_directories(bench_reconciler PRIVATE ${PROJECT_SOURCE_DIR})
  set_target_properties(bench_reconciler PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif()
