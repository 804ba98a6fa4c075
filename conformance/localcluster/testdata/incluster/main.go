// Command incluster stands in for Weir in tests: it talks to the API server
// the way a Pod does (rest.InClusterConfig: KUBERNETES_SERVICE_HOST and the
// projected service-account token and CA), lists Pods, prints the count and
// then waits to be stopped.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Println("in-cluster config:", err)
		os.Exit(1)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	pods, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		fmt.Println("listing pods:", err)
		os.Exit(1)
	}
	fmt.Printf("IN-CLUSTER-OK pods=%d args=%v\n", len(pods.Items), os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
}
