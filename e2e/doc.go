// Package e2e tests netready end to end under a real systemd: it boots the
// host's own /usr in a container (systemd-nspawn --volatile=yes) whose
// network namespace the test made and controls from outside, with the
// shipped netready-wait-online.service enabled, and proves from the
// container's journal and from systemctl what the unit promises: services
// ordered after network-online.target start only once netready says ready,
// an ExecStartPre= gate holds its service back, a wait that times out fails
// its unit with the report in the journal, and the hardened unit runs as a
// dynamic user with no capabilities yet sees netlink, routes, TCP and ICMP.
// The shipped netready-watch.service, booted the same way with the example
// textfile drop-in, serves /metrics and /ready on 127.0.0.1:10213, writes
// its textfile and runs its on-change command under that hardening.
//
// The TestIntegration… tests boot real network stacks as DHCP clients of a
// dnsmasq in a peer namespace whose DNS side starts after the lease:
// systemd-networkd with systemd-resolved, NetworkManager, and ifupdown with
// isc-dhcp-client. netready-wait-online must hold network-online.target
// until a name resolves through the stack's resolver, while the stack's own
// wait-online says online before; they log the time from the DNS server
// starting to each wait-online finishing. The stacks' packages are
// unpacked by scripts/container-root.sh into /var/cache/netready-e2e and
// seen only inside the container, laid over its /usr and under its /etc.
// The same stacks boot IPv6 only (ipv6_test.go), all at once, with a
// dnsmasq as their router (router advertisements with RDNSS and DNSSL, and
// DHCPv6) that starts once netready waits: netready-wait-online is ready
// once the address has left duplicate address detection and a name with
// AAAA records only resolves, never before.
//
// It holds tests only. They need root, iproute2, util-linux (nsenter) and
// Debian's systemd-container package (systemd-nspawn), and for the stacks
// dnsmasq-base, apt-get and dpkg; they fail, not skip, where one is
// missing, since CI runs them as root (outside CI and make test, the
// stack tests skip for a user who is not root). The host's network, /usr and /etc are never
// modified: the container's /etc and /var are tmpfs or an overlay whose
// writes go to the test's temporary directory, netready, the units and the
// packages reach it through read-only bind and overlay mounts, and its
// only network is a veth pair between two namespaces the test creates
// (10.213.7.0/24, 10.213.41-44.0/24 for the stacks, fd00:213:45-47::/64
// for the IPv6-only stacks).
package e2e
