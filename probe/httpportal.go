package probe

import (
	"bytes"
	"net/http"
	"strings"
)

// Heuristics that tell a captive portal's page from the server's answer.

// hasForm reports whether an HTML body has a form: "<form" in any case,
// then white space or ">". (Not a regular expression: one compiled at
// package level would cost every netready command its compilation.)
func hasForm(body []byte) bool {
	for {
		i := bytes.IndexByte(body, '<')
		if i < 0 {
			return false
		}
		body = body[i+1:]
		if len(body) > 4 && bytes.EqualFold(body[:4], []byte("form")) {
			switch body[4] {
			case ' ', '\t', '\n', '\f', '\r', '>':
				return true
			}
		}
	}
}

// htmlPage reports whether a response is an HTML page: by its Content-Type,
// or by what its body starts with.
func htmlPage(resp *http.Response, body []byte) bool {
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(ct), "text/html") {
		return true
	}
	head := strings.ToLower(strings.TrimSpace(string(body[:min(len(body), 512)])))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}
