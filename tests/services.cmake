# Tests of the deployment tooling (owner: infra): the local service scripts,
# the Kubernetes manifests and the container image.
leasehold_test(NAME test_services LABEL integration TIMEOUT 120
  COMMAND bash ARGS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_services.sh)
leasehold_test(NAME test_azurite_tls LABEL integration TIMEOUT 120
  COMMAND bash ARGS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_azurite_tls.sh)
leasehold_test(NAME test_k8s_manifests LABEL unit
  COMMAND python3 ARGS ${PROJECT_SOURCE_DIR}/deploy/k8s/validate.py)
# The container image's package lists against the built programs; sanitizer
# builds link extra runtimes the image never carries, so only the plain build.
if(LEASEHOLD_SANITIZE STREQUAL "")
  leasehold_test(NAME test_container_image LABEL unit
    COMMAND python3 ARGS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_container_image.py)
  set_tests_properties(test_container_image PROPERTIES SKIP_RETURN_CODE 77)
endif()
