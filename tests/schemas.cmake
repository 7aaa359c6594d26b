# Schema codec tests (owner: schemas).
leasehold_test(NAME test_inventory_schema LABEL unit
  SOURCES unit/test_inventory_schema.c LIBS leasehold_schemas)
leasehold_test(NAME test_inventory_schema_state LABEL unit
  SOURCES unit/test_inventory_schema_state.c LIBS leasehold_schemas)
