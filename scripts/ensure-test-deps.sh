#!/usr/bin/env bash
# Installs, when missing, the Debian packages the test suite needs (real tools and oracles).
# Idempotent: does nothing when every command is already present. Needs root to install.
set -euo pipefail

declare -A need=(
  [iptables]=iptables
  [ip6tables]=iptables
  [tc]=iproute2
  [ip]=iproute2
  [tshark]=tshark
  [qemu-system-x86_64]=qemu-system-x86
  [depmod]=kmod
  [cpio]=cpio
  [gcc]=gcc
  [strace]=strace
  [ping]=iputils-ping
  [setpriv]=util-linux
  [openssl]=openssl
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# The kernel-peer initramfs needs the static busybox (the plain busybox package is dynamic).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
# The kernel-peer guest (test/helpers/kernel_peer.ts) ships /etc/protocols and the host's python3.
[ -f /etc/protocols ] || missing+=(netbase)
[ -x /usr/bin/python3 ] || missing+=(python3)
/usr/bin/python3 -c 'import scapy.layers.ipsec' >/dev/null 2>&1 || missing+=(python3-scapy)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-test-deps: missing Debian packages ${pkgs[*]}; run as root or install them" >&2
  exit 1
fi
echo "ensure-test-deps: installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# wireshark-common asks whether non-root users may capture; answer no without a prompt.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
