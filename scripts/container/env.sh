# Source this file to point podman at the project's scratch configuration:
#   . scripts/container/env.sh
# It only sets variables; scripts/container/setup-podman.sh writes the files they name.
# Nothing here is needed on a real GitHub runner, which has a working Docker engine.
BBED_CONTAINER_HOME="${BBED_CONTAINER_HOME:-/var/tmp/bbed-containers}"
CONTAINERS_CONF="$BBED_CONTAINER_HOME/containers.conf"
CONTAINERS_STORAGE_CONF="$BBED_CONTAINER_HOME/storage.conf"
export BBED_CONTAINER_HOME CONTAINERS_CONF CONTAINERS_STORAGE_CONF
