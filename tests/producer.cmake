# Producer and gateway tests (owner: producer).
if(TARGET leasehold_producer)
  foreach(t args rest stats load_plan)
    leasehold_test(NAME test_producer_${t} LABEL unit
      SOURCES unit/test_producer_${t}.c LIBS leasehold_producer)
  endforeach()
endif()
