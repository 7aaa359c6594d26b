# Tests of the inventory worker (owner: worker). Unit tests link the worker
# core library; integration tests drive build/bin/inventory-worker against
# real Kafka and Azurite.
if(TARGET leasehold_worker_core)
  foreach(t inventory offset_tracker dispatcher worker_config copartition)
    leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_worker_core)
  endforeach()
  target_compile_definitions(test_worker_config PRIVATE
    LEASEHOLD_CONFIG_DOC="${PROJECT_SOURCE_DIR}/docs/configuration.md")
  # The publisher against a bootstrap address nothing listens on.
  leasehold_test(NAME test_publisher LABEL unit
    SOURCES unit/test_publisher.c ${PROJECT_SOURCE_DIR}/worker/publisher.c
    LIBS leasehold_worker_core PkgConfig::RDKAFKA)
endif()

# Integration: tests/integration/test_worker_pipeline.py drives real workers
# (one ctest per scenario; each uses its own topics and container; kafka_outage
# also its own broker, on a free port).
if(TARGET inventory-worker)
  foreach(scenario semantics duplicates empty_blob dead_letters expiry_reconciler lease_stolen
                   storage_outage kafka_outage drain_storage_hang sigterm_handover close_while_joining load
                   load_kill ownership copartition_mismatch blocked_state
                   blocked_rebalance)
    leasehold_test(NAME test_worker_${scenario} LABEL integration TIMEOUT 400
      COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_worker_pipeline.py
      ARGS ${scenario})
  endforeach()
endif()

# The processor against a fake lease engine and publisher (link-time wraps).
if(TARGET leasehold_worker_core)
  set(PROCESSOR_WRAPS lease_try_acquire lease_read lease_write lease_write_blocks lease_release lease_free lease_abandon lease_id
      lease_name lease_is_held lease_epoch lease_expiry_ms lease_renewal_count
      lease_loss_reason_name lease_manager_client blob_client_abort publisher_send_events
      publisher_send_dead_letter log_write)
  leasehold_test(NAME test_processor LABEL unit
    SOURCES unit/test_processor.c ${PROJECT_SOURCE_DIR}/worker/processor.c
      ${PROJECT_SOURCE_DIR}/worker/dead_letter.c
    LIBS leasehold_worker_core PkgConfig::JANSSON)
  target_include_directories(test_processor PRIVATE ${PROJECT_SOURCE_DIR}/lease/include)
  foreach(sym ${PROCESSOR_WRAPS})
    target_link_options(test_processor PRIVATE -Wl,--wrap=${sym})
  endforeach()
endif()

# The benchmark harness's /metrics reader (tests/bench/stage_breakdown.py):
# quantile interpolation and scrape sums against a local HTTP server.
leasehold_test(NAME test_stage_breakdown LABEL unit
  COMMAND python3 ARGS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_stage_breakdown.py)
