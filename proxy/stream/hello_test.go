package stream

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadHelloFromCryptoTLS(t *testing.T) {
	for name, want := range map[string]string{"Pass.Example.COM": "pass.example.com", "": ""} {
		hello := clientHello(t, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
		got, raw, err := ReadHello(bytes.NewReader(append(hello, "rest"...)), MaxHello)
		require.NoError(t, err, name)
		assert.Equal(t, want, got)
		assert.Equal(t, hello, raw, "every byte read is returned, nothing beyond the hello")
	}
}

// A hello split over several records (allowed by RFC 8446) is reassembled.
func TestReadHelloAcrossRecords(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "split.test", InsecureSkipVerify: true})
	msg := hello[recordHeaderLen:]
	var split []byte
	for _, part := range [][]byte{msg[:3], msg[3:40], msg[40:]} {
		split = append(split, typeHandshake, 3, 1, 0, 0)
		binary.BigEndian.PutUint16(split[len(split)-2:], uint16(len(part)))
		split = append(split, part...)
	}
	got, raw, err := ReadHello(bytes.NewReader(split), MaxHello)
	require.NoError(t, err)
	assert.Equal(t, "split.test", got)
	assert.Equal(t, split, raw)
}

func TestReadHelloRefusesMalformed(t *testing.T) {
	hello := clientHello(t, &tls.Config{ServerName: "ok.test", InsecureSkipVerify: true})
	big := append([]byte{typeHandshake, 3, 1, 0x40, 0x00, typeClientHello, 0x01, 0x00, 0x00}, make([]byte, 16<<10-4)...)
	for name, in := range map[string][]byte{
		"truncated":         hello[:len(hello)-3],
		"record too long":   {typeHandshake, 3, 1, 0x48, 0x01},
		"empty record":      {typeHandshake, 3, 1, 0, 0},
		"not a ClientHello": {typeHandshake, 3, 1, 0, 4, 2, 0, 0, 0},
		"hello too large":   big,
		"bad version":       {typeHandshake, 9, 1, 0, 4, 1, 0, 0, 0},
		"alert inside":      append([]byte{typeHandshake, 3, 1, 0, 2, 1, 0}, 0x15),
		"empty body":        {typeHandshake, 3, 1, 0, 4, 1, 0, 0, 0},
		"nothing":           {},
	} {
		_, _, err := ReadHello(bytes.NewReader(in), MaxHello)
		require.Error(t, err, name)
		assert.False(t, errors.Is(err, ErrNotTLS), name)
	}
	_, raw, err := ReadHello(bytes.NewReader([]byte("GET / HTTP/1.1\r\n")), MaxHello)
	assert.ErrorIs(t, err, ErrNotTLS)
	assert.Equal(t, []byte("G"), raw, "only the first byte is read from what is not TLS")
}

func TestServerNameValidation(t *testing.T) {
	for name, ok := range map[string]bool{"a.b": true, "a_b.example": true, "-x.test": true, "a..b": false, "a b": false,
		"bad\x00.test": false, "127.0.0.1": true, "é.test": false} {
		assert.Equal(t, ok, validHost(name), name)
	}
}

// FuzzReadHello: any input gives a result or an error, never a panic; a
// name returned is a valid lower-case host name, and the bytes returned are
// a prefix of the input.
func FuzzReadHello(f *testing.F) {
	f.Add(clientHello(f, &tls.Config{ServerName: "fuzz.test", InsecureSkipVerify: true}))
	f.Add(clientHello(f, &tls.Config{InsecureSkipVerify: true}))
	f.Add([]byte{typeHandshake, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		name, raw, err := ReadHello(bytes.NewReader(in), MaxHello)
		require.True(t, bytes.HasPrefix(in, raw))
		if err != nil {
			require.Empty(t, name)
			return
		}
		if name != "" {
			require.True(t, validHost(name), "%q", name)
		}
	})
}

// TestReadHelloSplitIntoTinyRecordsCostsLinearMemory: a ClientHello may be
// fragmented into records of one byte (RFC 8446 allows it), so a client
// sends six bytes per byte of hello. Reassembling it must cost memory in
// proportion to the hello, not to its square: a 16 KiB hello in 16 Ki
// records made Weir allocate about 170 MiB (every record copied the whole
// message so far), some 1,800 times what the client sent, within the 10 s
// the passthrough listener gives a hello and for every connection at once.
func TestReadHelloSplitIntoTinyRecordsCostsLinearMemory(t *testing.T) {
	body := MaxHello - 4
	msg := append([]byte{typeClientHello, byte(body >> 16), byte(body >> 8), byte(body)}, make([]byte, body)...)
	var in []byte
	for _, b := range msg {
		in = append(in, typeHandshake, 3, 1, 0, 1, b)
	}
	allocated := uint64(1 << 62) // the least of three runs: other tests' goroutines may allocate meanwhile
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, raw, err := ReadHello(bytes.NewReader(in), MaxHello)
		runtime.ReadMemStats(&after)
		require.Error(t, err, "an all-zero body is no valid hello")
		require.Equal(t, in, raw, "the whole hello was read")
		allocated = min(allocated, after.TotalAlloc-before.TotalAlloc)
	}
	assert.Less(t, allocated, uint64(2<<20), "bytes allocated to read a %d-byte hello sent as %d bytes", len(msg), len(in))
}
