//go:build !linux

package main

import "net"

// listenTCP listens on addr; net sets TCP keep-alive on each connection.
func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
