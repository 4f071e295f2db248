package dnstest

import (
	"crypto"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// SignedZone is a zone signed with one key, for a Server in signed mode
// (SetSigned) and a validating resolver that trusts Anchor.
type SignedZone struct {
	// Records are the zone's records, its DNSKEY and every RRSIG among
	// them, in master-file syntax for Start, Serve or AddRecords.
	Records []string
	// Anchor is the zone's DS record, the trust anchor a validating
	// resolver is given ("test. 3600 IN DS 12345 13 2 …").
	Anchor string
}

// Sign signs the records of zone origin (master-file syntax, every owner
// within origin) with a new ECDSA P-256 key, which also signs itself: each
// RRset's signature is valid from inception to expiration, except the
// DNSKEY RRset's, valid from an hour ago for 30 days, so that a resolver
// judges the signatures of the data alone. A period in the past makes
// signatures that have expired; one in the future, signatures not valid
// yet.
func Sign(t testing.TB, origin string, inception, expiration time.Time, records ...string) SignedZone {
	t.Helper()
	origin = dns.Fqdn(strings.ToLower(origin))
	key := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     dns.ZONE | dns.SEP,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatalf("dnstest: generate a key for %s: %v", origin, err)
	}
	signer := priv.(crypto.Signer)

	// The RRsets, by owner and type, in a stable order.
	type setKey struct {
		name  string
		rtype uint16
	}
	sets := map[setKey][]dns.RR{}
	var order []setKey
	for _, z := range records {
		rr, err := dns.NewRR(z)
		if err != nil || rr == nil {
			t.Fatalf("dnstest: bad record %q: %v", z, err)
		}
		k := setKey{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].name < order[j].name })

	sign := func(rrs []dns.RR, from, until time.Time) *dns.RRSIG {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Name: rrs[0].Header().Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: rrs[0].Header().Ttl},
			Algorithm:  key.Algorithm,
			KeyTag:     key.KeyTag(),
			SignerName: origin,
			Inception:  uint32(from.Unix()),
			Expiration: uint32(until.Unix()),
		}
		if err := sig.Sign(signer, rrs); err != nil {
			t.Fatalf("dnstest: sign %s %s: %v", rrs[0].Header().Name, dns.TypeToString[rrs[0].Header().Rrtype], err)
		}
		return sig
	}
	now := time.Now()
	z := SignedZone{Records: []string{key.String(), sign([]dns.RR{key}, now.Add(-time.Hour), now.Add(30*24*time.Hour)).String()}}
	for _, k := range order {
		rrs := sets[k]
		for _, rr := range rrs {
			z.Records = append(z.Records, rr.String())
		}
		z.Records = append(z.Records, sign(rrs, inception, expiration).String())
	}
	z.Anchor = key.ToDS(dns.SHA256).String()
	return z
}
