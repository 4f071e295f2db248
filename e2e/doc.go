// Package e2e tests netready end to end under a real systemd: it boots the
// host's own /usr in a container (systemd-nspawn --volatile=yes) whose
// network namespace the test made and controls from outside, with the
// shipped netready-wait-online.service enabled, and proves from the
// container's journal and from systemctl what the unit promises: services
// ordered after network-online.target start only once netready says ready,
// an ExecStartPre= gate holds its service back, a wait that times out fails
// its unit with the report in the journal, and the hardened unit runs as a
// dynamic user with no capabilities yet sees netlink, routes, TCP and ICMP.
//
// It holds tests only. They need root, iproute2, util-linux (nsenter) and
// Debian's systemd-container package (systemd-nspawn); they fail, not skip,
// where one is missing, since CI runs them as root. The host's network,
// /usr and /etc are never modified: the container's /etc and /var are
// tmpfs, netready and the units reach it through read-only bind and overlay
// mounts, and its only network is a veth pair between two namespaces the
// test creates (10.213.7.0/24).
package e2e
