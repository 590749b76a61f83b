#!/usr/bin/env bash
# Installs what printerd needs to build (libusb-1.0 headers for gousb,
# pcsc-lite headers for ebfe/scard) and, with the argument "test", what its
# tests need (pcscd and vsmartcard-vpcd for the chip encoding tests). Does nothing for what is
# already there, so it is cheap to run before every build.
set -euo pipefail

need=()
pkg-config --exists libusb-1.0 2>/dev/null || need+=(libusb-1.0-0-dev pkg-config)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
pkg-config --exists libpcsclite 2>/dev/null || need+=(libpcsclite-dev) # drivers/pcsc: ebfe/scard's cgo binding
if [ "${1:-}" = test ]; then
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v openssl >/dev/null || need+=(openssl)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -x cpio >/dev/null || need+=(busybox-static)
  [ -x /usr/sbin/usbip ] || need+=(usbip) # drivers/usb/vmtest: Debian's usbip tools in the guest
  [ -x /usr/sbin/pcscd ] || need+=(pcscd) # drivers/pcsc tests: the PC/SC daemon (internal/pcsctest starts it)
  [ -f /etc/reader.conf.d/vpcd ] || need+=(vsmartcard-vpcd) # the virtual readers drivers/chip/vchip plugs into
  ldd /bin/busybox >/dev/null 2>&1 && need+=(busybox-static) # the VM guest needs a static busybox
  # packaging/debtest: debootstraps a Debian userland for its VM guest;
  # git dates the package; zsh checks the generated completion. promtool
  # comes from Debian's prometheus package, unpacked by the test itself
  # (apt-get download), so no Prometheus server is installed here.
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v git >/dev/null || need+=(git)
  command -v zsh >/dev/null || need+=(zsh)
  # console browser tests: Debian's chromium, and axe-core from npm in a
  # cache directory (pinned; the test injects axe.min.js into each page).
  command -v chromium >/dev/null || need+=(chromium)
  command -v npm >/dev/null || need+=(npm)
  # drivers/usb/vmtest downloads Debian's kernel package with apt-get download: it needs package lists.
  apt-cache show linux-image-amd64 >/dev/null 2>&1 || { if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi; }
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "deps: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if [ "${1:-}" = test ]; then
  axe="${PRINTERD_AXE_DIR:-${HOME:-/root}/.cache/printerd-axe}"
  axe_version=4.14.1
  if ! grep -qs "\"version\": \"$axe_version\"" "$axe/node_modules/axe-core/package.json"; then
    echo "deps: installing axe-core $axe_version into $axe" >&2
    mkdir -p "$axe"
    npm install --prefix "$axe" --no-audit --no-fund --silent "axe-core@$axe_version" >&2
  fi
fi
