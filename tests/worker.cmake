# Tests of the inventory worker (owner: worker). Unit tests link the worker
# core library; integration tests drive build/bin/inventory-worker against
# real Kafka and Azurite.
if(TARGET leasehold_worker_core)
  foreach(t inventory offset_tracker dispatcher worker_config)
    leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_worker_core)
  endforeach()
  target_compile_definitions(test_worker_config PRIVATE
    LEASEHOLD_CONFIG_DOC="${PROJECT_SOURCE_DIR}/docs/configuration.md")
endif()
