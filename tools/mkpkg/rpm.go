package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cavaliergopher/cpio"
	gzip "github.com/klauspost/pgzip"
)

// The tags of an rpm file this file reads or rewrites (rpm's
// include/rpm/rpmtag.h).
const (
	sigSize          = 1000 // header and payload size, INT32
	sigSHA256        = 273  // SHA-256 of the header, hex STRING
	sigSHA1          = 269  // SHA-1 of the header, hex STRING
	sigLongArchive   = 271  // the uncompressed payload's size, INT64
	sigMD5           = 1004 // MD5 of header and payload, BIN
	sigLongSize      = 270  // header and payload size, INT64
	sigPayloadSize   = 1007 // the uncompressed payload's size, INT32
	tagPayloadDigest = 5092 // digest of the compressed payload, hex STRING_ARRAY
	tagPayloadComp   = 1125 // the payload's compressor, STRING
	tagPayloadDigAlt = 5097 // digest of the uncompressed payload
)

// signatureTags are signature header tags that sign the payload or the
// header with a key: a package that has one cannot be rewritten here
// (rpm's RPMSIGTAG_DSA, _RSA, _OPENPGP, _PGP, _GPG and _PGP5).
var signatureTags = map[uint32]string{267: "DSA", 268: "RSA", 278: "OpenPGP", 1002: "PGP", 1005: "GPG", 1006: "PGP5"}

// rpmHeader is one header structure of an rpm file (the signature header
// or the main header): its index entries and its data store, as raw bytes
// that fixes are written into in place.
type rpmHeader struct {
	raw     []byte // the whole structure: magic, counts, index, store
	entries map[uint32]indexEntry
}

type indexEntry struct {
	typ, offset, count uint32
}

// headerMagic begins every header structure: 8e ad e8, version 1, and
// four reserved bytes.
var headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// parseHeader reads the header structure at the start of b.
func parseHeader(b []byte) (*rpmHeader, error) {
	if len(b) < 16 || !bytes.Equal(b[:8], headerMagic) {
		return nil, errors.New("no header structure magic")
	}
	n := binary.BigEndian.Uint32(b[8:12])
	size := binary.BigEndian.Uint32(b[12:16])
	total := 16 + 16*uint64(n) + uint64(size)
	if total > uint64(len(b)) {
		return nil, fmt.Errorf("header structure of %d entries and %d bytes of data overruns the file", n, size)
	}
	h := &rpmHeader{raw: b[:total], entries: map[uint32]indexEntry{}}
	for i := range uint64(n) {
		e := b[16+16*i:]
		tag := binary.BigEndian.Uint32(e[0:4])
		ie := indexEntry{typ: binary.BigEndian.Uint32(e[4:8]), offset: binary.BigEndian.Uint32(e[8:12]), count: binary.BigEndian.Uint32(e[12:16])}
		if ie.offset > size {
			return nil, fmt.Errorf("tag %d: data offset %d is past the store's %d bytes", tag, ie.offset, size)
		}
		h.entries[tag] = ie
	}
	return h, nil
}

// store is the header structure's data store.
func (h *rpmHeader) store() []byte {
	return h.raw[16+16*len(h.entries):]
}

// setString overwrites the string of tag (a STRING, or the first of a
// STRING_ARRAY) with s, which must have the old string's length: a fix in
// place keeps every offset of the header valid.
func (h *rpmHeader) setString(tag uint32, s string) error {
	e, ok := h.entries[tag]
	if !ok {
		return fmt.Errorf("no tag %d", tag)
	}
	if e.typ != 6 && e.typ != 8 { // RPM_STRING_TYPE, RPM_STRING_ARRAY_TYPE
		return fmt.Errorf("tag %d: type %d, want a string", tag, e.typ)
	}
	st := h.store()[e.offset:]
	end := bytes.IndexByte(st, 0)
	if end != len(s) {
		return fmt.Errorf("tag %d: %d bytes long, cannot hold %d in place", tag, end, len(s))
	}
	copy(st, s)
	return nil
}

// getString is the string of tag (a STRING, or the first of a STRING_ARRAY).
func (h *rpmHeader) getString(tag uint32) (string, bool) {
	e, ok := h.entries[tag]
	if !ok || (e.typ != 6 && e.typ != 8) {
		return "", false
	}
	st := h.store()[e.offset:]
	end := bytes.IndexByte(st, 0)
	if end < 0 {
		return "", false
	}
	return string(st[:end]), true
}

// setInt32 overwrites the first value of the INT32 tag.
func (h *rpmHeader) setInt32(tag uint32, v uint32) error {
	e, ok := h.entries[tag]
	if !ok {
		return fmt.Errorf("no tag %d", tag)
	}
	if e.typ != 4 { // RPM_INT32_TYPE
		return fmt.Errorf("tag %d: type %d, want INT32", tag, e.typ)
	}
	binary.BigEndian.PutUint32(h.store()[e.offset:], v)
	return nil
}

// relativePayload rewrites an rpm file made by nfpm (google/rpmpack) so that
// its cpio payload names every file "./usr/bin/netready", as rpmbuild does,
// instead of "/usr/bin/netready": GNU cpio, which "rpm2cpio | cpio -id"
// runs, writes an absolute name where it says, whatever the current
// directory. rpm itself installs from the header's file list and is
// indifferent to the form. The payload is recompressed (gzip level 9, as
// rpmpack compresses it) and the digests that cover it are brought up to
// date: the payload digest in the main header, then the header's SHA-256,
// the package's size and the uncompressed payload's size (which rpmpack
// gives as the sum of the files' sizes, without the cpio headers) in the
// signature header. Every other byte is kept. A name
// that is not absolute, or that holds a ".." element, is refused.
//
// A signed package cannot be rewritten (its signature would no longer
// match): sign after this step.
func relativePayload(rpm []byte) ([]byte, error) {
	const leadSize = 96
	if len(rpm) < leadSize || !bytes.Equal(rpm[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("not an rpm file: no lead")
	}
	sig, err := parseHeader(rpm[leadSize:])
	if err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	for tag, name := range signatureTags {
		if _, ok := sig.entries[tag]; ok {
			return nil, fmt.Errorf("the package is signed (%s, tag %d): rewrite it before signing", strings.TrimSpace(name), tag)
		}
	}
	for _, tag := range []uint32{sigSHA1, sigMD5, sigLongSize, sigLongArchive} {
		if _, ok := sig.entries[tag]; ok {
			return nil, fmt.Errorf("signature header: tag %d is not one this rewrite brings up to date", tag)
		}
	}
	hdrStart := leadSize + len(sig.raw)
	hdrStart += (8 - hdrStart%8) % 8 // the signature header is padded to 8 bytes
	hdr, err := parseHeader(rpm[min(hdrStart, len(rpm)):])
	if err != nil {
		return nil, fmt.Errorf("main header: %w", err)
	}
	if _, ok := hdr.entries[tagPayloadDigAlt]; ok {
		return nil, fmt.Errorf("main header: tag %d is not one this rewrite brings up to date", tagPayloadDigAlt)
	}
	if c, _ := hdr.getString(tagPayloadComp); c != "gzip" {
		return nil, fmt.Errorf("payload compressor %q, want gzip (nfpm.yaml's rpm.compression)", c)
	}
	payloadStart := hdrStart + len(hdr.raw)

	zr, err := gzip.NewReader(bytes.NewReader(rpm[payloadStart:]))
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	archive, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	rewritten, err := relativeCPIO(archive)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var payload bytes.Buffer
	zw, err := gzip.NewWriterLevel(&payload, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(rewritten); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}

	out := bytes.Clone(rpm[:payloadStart])
	sig, _ = parseHeader(out[leadSize:])
	hdr, _ = parseHeader(out[hdrStart:])
	if err := hdr.setString(tagPayloadDigest, fmt.Sprintf("%x", sha256.Sum256(payload.Bytes()))); err != nil {
		return nil, fmt.Errorf("main header: payload digest: %w", err)
	}
	if err := sig.setString(sigSHA256, fmt.Sprintf("%x", sha256.Sum256(hdr.raw))); err != nil {
		return nil, fmt.Errorf("signature header: header digest: %w", err)
	}
	if err := sig.setInt32(sigSize, uint32(len(hdr.raw)+payload.Len())); err != nil {
		return nil, fmt.Errorf("signature header: size: %w", err)
	}
	if err := sig.setInt32(sigPayloadSize, uint32(len(rewritten))); err != nil {
		return nil, fmt.Errorf("signature header: payload size: %w", err)
	}
	return append(out, payload.Bytes()...), nil
}

// relativeCPIO rewrites a cpio archive (SVR4, "newc") whose names are
// absolute so that each is relative to the current directory: "/usr/x"
// becomes "./usr/x". Every other field and every file's data (a symlink's
// target included) are kept, and the trailer is written as before.
func relativeCPIO(archive []byte) ([]byte, error) {
	r := cpio.NewReader(bytes.NewReader(archive))
	var out bytes.Buffer
	w := cpio.NewWriter(&out)
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name, err := relativeName(h.Name)
		if err != nil {
			return nil, err
		}
		h.Name = name
		// The reader hands a symlink's target over as Linkname, with no
		// data; in the archive the target is the entry's data.
		var data io.Reader = r
		if h.Mode&^cpio.ModePerm == cpio.TypeSymlink {
			h.Size = int64(len(h.Linkname))
			data = strings.NewReader(h.Linkname)
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if _, err := io.Copy(w, data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// relativeName is an absolute, clean payload name made relative, "./usr/x"
// for "/usr/x". A name that is already relative, not clean or that climbs
// ("..") is an error: no payload of nfpm's has one.
func relativeName(name string) (string, error) {
	if !strings.HasPrefix(name, "/") || name == "/" {
		return "", fmt.Errorf("payload name %q is not an absolute path below /", name)
	}
	if path.Clean(name) != name || strings.Contains(name, "/../") {
		return "", fmt.Errorf("payload name %q is not a clean path", name)
	}
	return "." + name, nil
}
