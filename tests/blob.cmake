# Blob storage client tests (lease/src/blob*.c, storage_*.c). Unit tests reach
# the internal header lease/src/blob_internal.h through the project root;
# those needing a local HTTP endpoint use unit/blob_test_server.c (libmicrohttpd).
foreach(t storage_sharedkey storage_connstr storage_error blob_meta)
  leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c LIBS leasehold_lease)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR})
endforeach()

foreach(t storage_token blob_http)
  leasehold_test(NAME test_${t} LABEL unit SOURCES unit/test_${t}.c unit/blob_test_server.c
                 LIBS leasehold_lease PkgConfig::MHD)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR})
endforeach()

leasehold_test(NAME test_blob_azurite LABEL integration SOURCES integration/test_blob_azurite.c
               LIBS leasehold_lease)
target_include_directories(test_blob_azurite PRIVATE ${PROJECT_SOURCE_DIR})
leasehold_test(NAME test_blob_tls LABEL integration
               SOURCES integration/test_blob_tls.c unit/blob_test_server.c
               LIBS leasehold_lease PkgConfig::MHD)
