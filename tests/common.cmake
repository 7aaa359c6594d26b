# Unit tests of common/ (logging, configuration).
leasehold_test(NAME test_config LABEL unit SOURCES unit/test_config.c LIBS leasehold_common)
leasehold_test(NAME test_log LABEL unit SOURCES unit/test_log.c LIBS leasehold_common PkgConfig::JANSSON)
# The state blob's "nextexpiry" metadata hint (common/state_blob.c).
leasehold_test(NAME test_state_blob LABEL unit SOURCES unit/test_state_blob.c LIBS leasehold_common)
