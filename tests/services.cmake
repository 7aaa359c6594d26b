# Tests of the deployment tooling (owner: infra): the local service scripts
# and the Kubernetes manifests.
leasehold_test(NAME test_services LABEL integration TIMEOUT 120
  COMMAND bash ARGS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_services.sh)
leasehold_test(NAME test_azurite_tls LABEL integration TIMEOUT 120
  COMMAND bash ARGS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_azurite_tls.sh)
leasehold_test(NAME test_k8s_manifests LABEL unit
  COMMAND python3 ARGS ${PROJECT_SOURCE_DIR}/deploy/k8s/validate.py)
