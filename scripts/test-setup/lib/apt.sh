# Sourced by scripts/test-setup/*.sh (never run on its own; scripts/test.sh runs only the top-level *.sh):
#   apt_install PKG...   apt-get update, then install PKG... without recommends, as root or through sudo,
#                        retrying (30 x 20 s) while another apt/dpkg holds the lock (shared CI machines).
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

apt_retry() {
  for attempt in $(seq 1 30); do
    if $SUDO apt-get -o DPkg::Lock::Timeout=20 "$@"; then return 0; fi
    echo "apt-get $1 failed (attempt $attempt; lock held?), retrying in 20 s" >&2
    sleep 20
  done
  return 1
}

apt_install() {
  apt_retry update -q
  apt_retry install -y -q --no-install-recommends "$@"
}
