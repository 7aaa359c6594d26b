# Tests of the ops area: metrics registry (common/metrics.c), the worker's
# admin HTTP endpoint and the reconciler (worker/admin_http.c,
# worker/reconciler.c). The worker sources are compiled straight into the
# test executables so these tests do not depend on the worker's targets.
leasehold_test(NAME test_metrics LABEL unit SOURCES unit/test_metrics.c LIBS leasehold_common)
target_include_directories(test_metrics PRIVATE ${PROJECT_SOURCE_DIR}/lease/include)
