// Package packaging holds what netready's .deb and .rpm ship besides the
// binary: netready-wait-online.service, the /etc/default/netready file, the
// example units and drop-ins, the nfpm configuration, the maintainer scripts
// and the version script that "make package" uses.
//
// It has no Go code: its tests check those files with the tools that will
// read them (systemd-analyze verify and security, dpkg, rpm), build the
// packages with "make package", and install the .deb for real with dpkg.
// They need root, dpkg, deb-systemd-helper (init-system-helpers),
// systemd-analyze (systemd), man (man-db) and rpm.
package packaging
