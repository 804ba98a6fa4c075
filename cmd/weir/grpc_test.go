package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// TestGRPCThroughWeir sends a unary call (with its status in trailers) and a
// bidirectional stream through Weir to a gRPC backend marked
// backend-protocol: GRPC, the client speaking HTTP/2 in clear text.
func TestGRPCThroughWeir(t *testing.T) {
	backend := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("weir.test", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(backend, hs)
	reflection.Register(backend)
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go backend.Serve(bln)
	t.Cleanup(backend.Stop)
	_, bport, _ := net.SplitHostPort(bln.Addr().String())

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "grpc.yaml"), []byte(loopbackService("grpc", "grpc", 50051, bport)+`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: grpc
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/backend-protocol: GRPC}
spec:
  ingressClassName: weir
  rules:
  - host: grpc.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: grpc, port: {number: 50051}}}}]}
`), 0o600))
	plainAddr, _ := serveManifests(t, dir)

	conn, err := grpc.NewClient("passthrough:///"+plainAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example.com"))
	require.NoError(t, err)
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()

	hc := healthpb.NewHealthClient(conn)
	res, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: "weir.test"})
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, res.Status)
	_, err = hc.Check(cctx, &healthpb.HealthCheckRequest{Service: "unknown"})
	assert.Equal(t, codes.NotFound, status.Code(err), "the grpc-status of a trailers-only answer reaches the client")

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(cctx)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		require.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"}}))
		resp, err := stream.Recv()
		require.NoError(t, err, "message %d of the bidirectional stream", i)
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.Name)
		}
		assert.Contains(t, names, "grpc.health.v1.Health")
	}
	require.NoError(t, stream.CloseSend())
}
