// Package proxyproto reads the PROXY protocol header (versions 1 and 2) a
// load balancer sends at the start of a connection to name the client, and
// wraps a net.Listener so that the accepted connections report that client
// as their remote address (ingress-nginx's use-proxy-protocol).
//
// The header is read on first use of the connection (its RemoteAddr or
// Read), in the goroutine serving it, never in Accept: a slow or silent
// client cannot hold up the others. It must arrive within the listener's
// timeout; a connection whose header is missing, malformed or late is
// closed without a byte written, since anything it sent cannot be trusted
// to be HTTP.
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrNoHeader: the connection did not start with a PROXY protocol header.
var ErrNoHeader = errors.New("proxyproto: no PROXY protocol header")

// v2Signature starts every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	v1MaxLen = 107 // the longest v1 line, CRLF included
	// v2MaxLen bounds the address block and TLVs Weir accepts; larger
	// headers are refused rather than buffered.
	v2MaxLen = 1024
)

// Header is what a PROXY protocol header says. Source is invalid for
// LOCAL (v2) and UNKNOWN (v1) headers: the connection's own addresses
// stand.
type Header struct {
	Version     int
	Source      netip.AddrPort
	Destination netip.AddrPort
}

// Read reads one header from r. It never reads past the header.
func Read(r *bufio.Reader) (Header, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, err
	}
	switch first[0] {
	case 'P':
		return readV1(r)
	case '\r':
		return readV2(r)
	}
	return Header{}, ErrNoHeader
}

func readV1(r *bufio.Reader) (Header, error) {
	var line []byte
	for len(line) < v1MaxLen {
		b, err := r.ReadByte()
		if err != nil {
			return Header{}, fmt.Errorf("proxyproto: v1 header: %w", err)
		}
		line = append(line, b)
		if b == '\n' {
			return parseV1(line)
		}
	}
	return Header{}, errors.New("proxyproto: v1 header longer than 107 bytes")
}

// parseV1 reads "PROXY TCP4 src dst sport dport\r\n" or "PROXY UNKNOWN...".
func parseV1(line []byte) (Header, error) {
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return Header{}, errors.New("proxyproto: v1 header does not end in CRLF")
	}
	f := strings.Split(s, " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return Header{}, ErrNoHeader
	}
	if f[1] == "UNKNOWN" {
		return Header{Version: 1}, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return Header{}, fmt.Errorf("proxyproto: malformed v1 header %q", s)
	}
	src, err1 := v1Addr(f[2], f[4], f[1] == "TCP4")
	dst, err2 := v1Addr(f[3], f[5], f[1] == "TCP4")
	if err := errors.Join(err1, err2); err != nil {
		return Header{}, fmt.Errorf("proxyproto: malformed v1 header %q: %w", s, err)
	}
	return Header{Version: 1, Source: src, Destination: dst}, nil
}

func v1Addr(ip, port string, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() != v4 || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", ip)
	}
	// Ports are decimal without leading zeros or signs.
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (len(port) > 1 && port[0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

func readV2(r *bufio.Reader) (Header, error) {
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return Header{}, fmt.Errorf("proxyproto: v2 header: %w", err)
	}
	if !bytes.Equal(head[:12], v2Signature) {
		return Header{}, ErrNoHeader
	}
	if head[12]>>4 != 2 {
		return Header{}, fmt.Errorf("proxyproto: unknown version %d", head[12]>>4)
	}
	n := int(binary.BigEndian.Uint16(head[14:16]))
	if n > v2MaxLen {
		return Header{}, fmt.Errorf("proxyproto: v2 header of %d bytes is too long", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, fmt.Errorf("proxyproto: v2 header: %w", err)
	}
	return parseV2(head[12], head[13], body)
}

// parseV2 reads the command, family and address block of a v2 header.
func parseV2(cmd, fam byte, body []byte) (Header, error) {
	h := Header{Version: 2}
	switch cmd & 0xf {
	case 0: // LOCAL: the balancer's own health check
		return h, nil
	case 1: // PROXY
	default:
		return Header{}, fmt.Errorf("proxyproto: unknown v2 command %d", cmd&0xf)
	}
	var size int
	switch fam {
	case 0x11: // TCP over IPv4
		size = 4
	case 0x21: // TCP over IPv6
		size = 16
	case 0x00, 0x12, 0x22, 0x31, 0x32: // unspecified, UDP, UNIX: no client IP
		return h, nil
	default:
		return Header{}, fmt.Errorf("proxyproto: unknown v2 family 0x%02x", fam)
	}
	if len(body) < 2*size+4 {
		return Header{}, errors.New("proxyproto: v2 address block too short")
	}
	src, _ := netip.AddrFromSlice(body[:size])
	dst, _ := netip.AddrFromSlice(body[size : 2*size])
	ports := body[2*size:]
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(ports[0:2]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(ports[2:4]))
	return h, nil
}

// TCPAddr is the header's source as a net.Addr, or nil when it names none.
func (h Header) TCPAddr() net.Addr {
	if !h.Source.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(h.Source)
}
