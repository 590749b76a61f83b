#!/bin/bash
# Runs inside the QEMU guest (Debian userland from debootstrap, booted with
# systemd as init) as debvm.service, once multi-user.target is reached. It
# installs the printerd package as an administrator would and prints one
# "DEBVM-CHECK <name> PASS|FAIL <detail>" line per check; TestDebInVM
# (vm_test.go) requires every check it knows to PASS.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive
rc=0
pass() { echo "DEBVM-CHECK $1 PASS ${2:-}"; }
fail() { echo "DEBVM-CHECK $1 FAIL ${2:-}"; rc=1; }
# check NAME DETAIL COMMAND...: PASS if COMMAND succeeds.
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }
prop() { systemctl show -p "$1" --value printerd; }
# waitfor SECONDS COMMAND...: retry COMMAND every half second.
waitfor() { local n=$(($1 * 2)); shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.5; done; return 1; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
journal() { journalctl -u printerd --no-pager -o cat | tail -n "${1:-25}" | sed 's/^/DEBVM-JOURNAL| /'; }
is_active() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }

echo "DEBVM: multi-user.target reached at $(uptime_s) s"
depmod -a
# usbcore before printerd starts: DeviceAllow=char-usb_device needs its major.
modprobe -a usbcore vhci-hcd usblp || fail modules "modprobe usbcore vhci-hcd usblp"

# 1. Install, as an administrator does (apt would bring libpcsclite1 along).
dpkg -i /root/libpcsclite1.deb >/dev/null 2>&1 || fail install "dpkg -i libpcsclite1"
out=$(dpkg -i /root/printerd_1.deb 2>&1)
st=$?
echo "$out" | sed 's/^/DEBVM-DPKG-INSTALL| /'
check install "$(dpkg-query -W printerd 2>&1)" test $st -eq 0
check user "$(getent passwd printerd)" sh -c 'getent group printerd >/dev/null && getent passwd printerd | grep -q ":/usr/sbin/nologin$"'
check keys-dir "$(stat -c '%U:%G %a' /etc/printerd/keys)" test "$(stat -c '%U:%G %a' /etc/printerd/keys)" = "root:root 700"
check enabled "$(systemctl is-enabled printerd 2>&1)" test "$(systemctl is-enabled printerd 2>&1)" = enabled
check not-started-unconfigured "$(prop ActiveState), ConditionResult=$(prop ConditionResult)" \
	sh -c '[ "$(systemctl show -p ActiveState --value printerd)" = inactive ] && echo "$0" | grep -q "not started yet"' "$out"
check man-page "$(man -w printerd-run 2>&1), $(ls /usr/share/man/man8/ | grep -c '^printerd') printerd pages" sh -c 'man -w printerd >/dev/null && man -w printerd-run >/dev/null && man printerd-run 2>/dev/null | grep -q "held-retention"'
v=$(systemd-analyze verify /lib/systemd/system/printerd.service 2>&1)
check systemd-analyze-verify "${v:-clean}" test -z "$v"

# 2. Configure: keys, an approver, a simulated printer; start.
printerd keys new --kind issuer --out /etc/printerd/keys >/dev/null
printerd keys new --kind approver --out /root/keys >/dev/null
cp /root/keys/approver.pub /etc/printerd/approvers/
sed -i 's#"usb://auto?name=desk1"#"sim://desk1?speed=0"#' /etc/printerd/printerd.json
# The bus is authenticated: one user per system or person (README.Debian).
printerd users add --users /etc/printerd/users.json --role enrollment --site local enrollment-1 --seed /root/enrollment-1.nk >/dev/null
printerd users add --users /etc/printerd/users.json --role clerk --site local clerk-1 --seed /root/clerk-1.nk >/dev/null
chmod 644 /etc/printerd/users.json
sed -i 's#"nats-listen"#"nats-users": "/etc/printerd/users.json",\n  "nats-listen"#' /etc/printerd/printerd.json
submit() { printerd submit "$@" --nats-nkey /root/enrollment-1.nk; }
jobstatus() { printerd jobs status "$@" --nats-nkey /root/clerk-1.nk; }
t0=$(uptime_s)
systemctl start printerd
st=$?
t1=$(uptime_s)
detail="systemctl start exit $st after $(echo "$t1 - $t0" | bc 2>/dev/null || echo "$t0..$t1") s; $(prop ActiveState)/$(prop SubState); StatusText=$(prop StatusText)"
check ready "$detail" sh -c "[ $st -eq 0 ] && [ \"\$(systemctl show -p ActiveState,SubState,StatusText --value printerd | tr '\n' ' ')\" != '' ] && systemctl show -p StatusText --value printerd | grep -q '^serving 1 printer(s) for site local'"
is_active || journal 40
check watchdog-armed "WatchdogUSec=$(prop WatchdogUSec) Type=$(prop Type)" sh -c '[ "$(systemctl show -p WatchdogUSec --value printerd)" = 30s ] && [ "$(systemctl show -p Type --value printerd)" = notify ]'
echo "DEBVM-SECURITY-BEGIN"
systemd-analyze security printerd --no-pager 2>&1 | sed 's/^/DEBVM-SECURITY| /'
echo "DEBVM-EXPOSURE $(systemd-analyze security printerd --no-pager 2>/dev/null | sed -n 's/.*Overall exposure level for printerd.service: \([0-9.]*\).*/\1/p')"
check state-dir "$(stat -c '%U:%G %a' /var/lib/printerd) $(ls /var/lib/printerd | tr '\n' ' ')" \
	sh -c '[ "$(stat -c "%U:%G %a" /var/lib/printerd)" = "printerd:printerd 700" ] && [ -s /var/lib/printerd/jetstream.key ]'
check credential-not-readable-by-service "issuer.key $(stat -c '%U:%G %a' /etc/printerd/keys/issuer.key)" \
	sh -c '! runuser -u printerd -- cat /etc/printerd/keys/issuer.key >/dev/null 2>&1'

# 3. A card job, as the enrollment system sends it: the daemon's key
# pinned, the person sealed to its current epoch key (contract v2).
mkdir -p /root/pins && cp /var/lib/printerd/daemon.pub /root/pins/desk1.pub
id=$(submit /root/job.json --approver-key /root/keys/approver.key --daemon-keys /root/pins --json 2>&1 | sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p')
printed() { jobstatus "$id" 2>/dev/null | grep -Eq '^state[[:space:]]+printed'; }
waitfor 90 printed
check job-printed "job ${id:-none}: $(jobstatus "$id" 2>&1 | grep ^state)" printed

# 4. The watchdog is fed: still the same process after more than WatchdogSec.
pid=$(prop MainPID)
sleep 35
check watchdog-fed "MainPID $pid -> $(prop MainPID), NRestarts=$(prop NRestarts)" sh -c "[ \"\$(systemctl show -p MainPID --value printerd)\" = $pid ] && [ \"\$(systemctl show -p NRestarts --value printerd)\" = 0 ]"

# 5. SIGKILL: systemd restarts it.
kill -9 "$pid"
restarted() { [ "$(prop NRestarts)" = 1 ] && is_active && [ "$(prop MainPID)" != "$pid" ] && [ "$(prop MainPID)" != 0 ]; }
waitfor 90 restarted
check restarted-after-sigkill "NRestarts=$(prop NRestarts) MainPID $pid -> $(prop MainPID) $(prop ActiveState)/$(prop SubState)" restarted
is_active || journal 40

# 6. Upgrade to a newer version: state and keys stay, the service restarts.
sha256sum /var/lib/printerd/jetstream.key /etc/printerd/keys/issuer.key /etc/printerd/printerd.json >/root/state.sum
pid=$(prop MainPID)
out=$(dpkg -i --force-confdef --force-confold /root/printerd_2.deb 2>&1)
st=$?
echo "$out" | sed 's/^/DEBVM-DPKG-UPGRADE| /'
check upgrade "$(dpkg-query -W printerd) $(printerd version)" sh -c "[ $st -eq 0 ] && printerd version | grep -q 'printerd 0.1.0+debtest2 '"
waitfor 60 is_active
check upgrade-restarted "MainPID $pid -> $(prop MainPID), $(prop ActiveState)/$(prop SubState)" sh -c "[ \"\$(systemctl show -p MainPID --value printerd)\" != $pid ] && [ \"\$(systemctl show -p SubState --value printerd)\" = running ]"
check upgrade-keeps-state "$(sha256sum -c /root/state.sum 2>&1 | tr '\n' ' ')" sha256sum -c --quiet /root/state.sum
waitfor 30 printed
check upgrade-keeps-jobs "job $id: $(jobstatus "$id" 2>&1 | grep ^state)" printed

# 7. udev: the simulated USB printer over USB/IP gets group printerd.
printerd sim --usbip vhci --name usbsim >/tmp/sim.log 2>&1 &
simpid=$!
lp_ready() { [ -c /dev/usb/lp0 ]; }
waitfor 30 lp_ready
udevadm settle --timeout=30
sysdev=""
for d in /sys/bus/usb/devices/*; do
	[ "$(cat "$d/idVendor" 2>/dev/null)" = 0f49 ] && sysdev=$d
done
node=""
[ -n "$sysdev" ] && node=$(printf '/dev/bus/usb/%03d/%03d' "$(cat "$sysdev/busnum")" "$(cat "$sysdev/devnum")")
check udev-usb-device "$node $(stat -c '%G %a' "$node" 2>&1)" test "$(stat -c '%G %a' "$node" 2>&1)" = "printerd 660"
check udev-usblp "/dev/usb/lp0 $(stat -c '%G %a' /dev/usb/lp0 2>&1)" test "$(stat -c '%G %a' /dev/usb/lp0 2>&1)" = "printerd 660"
list=$(runuser -u printerd -- printerd diag list 2>&1)
echo "$list" | sed 's/^/DEBVM-DIAG| /'
check usb-printer-usable-by-group "$(echo "$list" | grep usb:// | head -1)" sh -c 'echo "$0" | grep -q "usb://0f49:1234?serial="' "$list"
# The service itself prints on the USB printer, through its sandbox
# (DeviceAllow=char-usb_device, user printerd, no capabilities).
sed -i 's#"sim://desk1?speed=0"#"usb://auto?name=desk1"#' /etc/printerd/printerd.json
systemctl restart printerd
id2=$(submit /root/job2.json --approver-key /root/keys/approver.key --daemon-keys /root/pins --json 2>&1 | sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p')
printed2() { jobstatus "$id2" 2>/dev/null | grep -Eq '^state[[:space:]]+printed'; }
waitfor 240 printed2
check usb-card-printed-by-service "job ${id2:-none}: $(jobstatus "$id2" 2>&1 | grep ^state)" printed2
printed2 || journal 30
kill "$simpid" 2>/dev/null
sleep 1
sed 's/^/DEBVM-SIM| /' /tmp/sim.log | head -8

# 8. systemctl stop: a clean stop.
systemctl stop printerd
check stopped-cleanly "$(prop ActiveState) Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)" \
	sh -c '[ "$(systemctl show -p ActiveState --value printerd)" = inactive ] && [ "$(systemctl show -p Result --value printerd)" = success ] && [ "$(systemctl show -p ExecMainStatus --value printerd)" = 0 ]'
check stop-logged "$(journalctl -u printerd --no-pager -o cat | grep -c 'printerd: stopped') 'printerd: stopped' records" sh -c 'journalctl -u printerd --no-pager -o cat | grep -q "printerd: stopped"'

# 9. Remove keeps state and keys; purge says what it deletes, then deletes it.
out=$(dpkg -r printerd 2>&1)
echo "$out" | sed 's/^/DEBVM-DPKG-REMOVE| /'
check remove-keeps-state "$(ls /var/lib/printerd /etc/printerd/keys 2>&1 | tr '\n' ' ')" \
	sh -c '[ -s /var/lib/printerd/jetstream.key ] && [ -s /etc/printerd/keys/issuer.key ] && echo "$0" | grep -q "kept /var/lib/printerd"' "$out"
out=$(dpkg -P printerd 2>&1)
echo "$out" | sed 's/^/DEBVM-DPKG-PURGE| /'
check purge-says-then-deletes "$(ls -d /var/lib/printerd /etc/printerd 2>&1 | tr '\n' ' ')" \
	sh -c '[ ! -e /var/lib/printerd ] && [ ! -e /etc/printerd ] && echo "$0" | grep -q "purge: deleting /var/lib/printerd" && echo "$0" | grep -q "purge: deleting /etc/printerd"' "$out"

echo "DEBVM-RESULT rc=$rc at $(uptime_s) s"
sync
systemctl poweroff --force --force
