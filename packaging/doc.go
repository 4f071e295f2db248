// Package packaging holds what netready's .deb and .rpm ship besides the
// binary: netready-wait-online.service, the /etc/default/netready file, the
// example units and drop-ins, the nfpm configuration, the maintainer scripts,
// the .deb's copyright file and lintian overrides, rpmlint's configuration
// and the version script that "make package" uses.
//
// It has no Go code: its tests check those files with the tools that will
// read them (systemd-analyze verify and security, dpkg, rpm, lintian,
// rpmlint), build the packages with "make package" and a release twice with
// "make release" (reproducibility), and install the .deb for real with
// dpkg. They need root, dpkg, deb-systemd-helper (init-system-helpers),
// systemd-analyze (systemd), man (man-db), rpm, cpio, lintian, rpmlint and
// unshare (util-linux); diffoscope shows a difference between two builds
// where it is installed.
package packaging
