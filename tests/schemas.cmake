# Schema codec tests (owner: schemas).
leasehold_test(NAME test_inventory_schema LABEL unit
  SOURCES unit/test_inventory_schema.c LIBS leasehold_schemas)
leasehold_test(NAME test_inventory_schema_state LABEL unit
  SOURCES unit/test_inventory_schema_state.c LIBS leasehold_schemas)
leasehold_test(NAME test_inventory_schema_paged LABEL unit
  SOURCES unit/test_inventory_schema_paged.c LIBS leasehold_schemas)
leasehold_test(NAME test_inventory_schema_examples LABEL unit
  SOURCES unit/test_inventory_schema_examples.c LIBS leasehold_schemas)

# JSON Schema check (python3 jsonschema, Draft 2020-12): the examples in
# schemas/v1/examples and every document kind the C encoders write.
add_executable(inv_emit_examples schemas/emit_examples.c)
target_link_libraries(inv_emit_examples PRIVATE leasehold_schemas)
set_target_properties(inv_emit_examples PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
leasehold_test(NAME check_schemas LABEL unit
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/schemas/check_schemas.py ARGS $<TARGET_FILE:inv_emit_examples>)

# Timings (not a test): both state layouts, write cost per batch and a new
# owner's acquire + load: build/tests/bench_state [RESERVATIONS [BATCHES [PER_BATCH]]].
if(TARGET leasehold_common)
  add_executable(bench_state bench/bench_state.c)
  target_link_libraries(bench_state PRIVATE leasehold_common leasehold_schemas leasehold_lease
    PkgConfig::CURL)
  target_include_directories(bench_state PRIVATE ${PROJECT_SOURCE_DIR})
  set_target_properties(bench_state PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endif()
