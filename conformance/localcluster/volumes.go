package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Volumes are materialised as plain files under the Pod's directory and
// bind-mounted at each mountPath inside the container's private mount
// namespace. Secret and ConfigMap contents are read once, when the Pod starts.

// volumeWriter fills one Pod's volume directories.
type volumeWriter struct {
	client kubernetes.Interface
	pod    *corev1.Pod
	dir    string // the Pod's volumes directory
	podIP  string
	hostIP string
}

// materialize writes every volume and returns the source path of each by
// name. A missing Secret or ConfigMap is an error, to retry later.
func (w *volumeWriter) materialize(ctx context.Context) (map[string]string, error) {
	paths := map[string]string{}
	for _, v := range w.pod.Spec.Volumes {
		if v.HostPath != nil {
			paths[v.Name] = v.HostPath.Path
			continue
		}
		dir := filepath.Join(w.dir, v.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating volume %s: %w", v.Name, err)
		}
		if err := w.fill(ctx, dir, v.VolumeSource); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = dir
	}
	return paths, nil
}

func (w *volumeWriter) fill(ctx context.Context, dir string, src corev1.VolumeSource) error {
	switch {
	case src.EmptyDir != nil:
		return nil
	case src.Secret != nil:
		s := src.Secret
		return w.keys(ctx, dir, "Secret", s.SecretName, s.Items, s.DefaultMode, s.Optional)
	case src.ConfigMap != nil:
		c := src.ConfigMap
		return w.keys(ctx, dir, "ConfigMap", c.Name, c.Items, c.DefaultMode, c.Optional)
	case src.DownwardAPI != nil:
		return w.downward(dir, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode)
	case src.Projected != nil:
		return w.projected(ctx, dir, src.Projected)
	}
	return errors.New("unsupported volume type (this kubelet knows emptyDir, hostPath, secret, configMap, downwardAPI, projected)")
}

func (w *volumeWriter) keys(ctx context.Context, dir, kind, name string, items []corev1.KeyToPath, mode *int32, optional *bool) error {
	data, err := readData(ctx, w.client, kind, w.pod.Namespace, name)
	if err != nil {
		if optional != nil && *optional && apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFile(dir, k, v, mode); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return fmt.Errorf("%s %s has no key %q", kind, name, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = it.Mode
		}
		if err := writeFile(dir, it.Path, v, m); err != nil {
			return err
		}
	}
	return nil
}

func (w *volumeWriter) downward(dir string, items []corev1.DownwardAPIVolumeFile, mode *int32) error {
	for _, it := range items {
		val := "0"
		if it.FieldRef != nil {
			v, err := fieldValue(w.pod, it.FieldRef.FieldPath, w.podIP, w.hostIP)
			if err != nil {
				return err
			}
			val = v
		}
		m := mode
		if it.Mode != nil {
			m = it.Mode
		}
		if err := writeFile(dir, it.Path, []byte(val), m); err != nil {
			return err
		}
	}
	return nil
}

func (w *volumeWriter) projected(ctx context.Context, dir string, p *corev1.ProjectedVolumeSource) error {
	for _, s := range p.Sources {
		var err error
		switch {
		case s.Secret != nil:
			err = w.keys(ctx, dir, "Secret", s.Secret.Name, s.Secret.Items, p.DefaultMode, s.Secret.Optional)
		case s.ConfigMap != nil:
			err = w.keys(ctx, dir, "ConfigMap", s.ConfigMap.Name, s.ConfigMap.Items, p.DefaultMode, s.ConfigMap.Optional)
		case s.DownwardAPI != nil:
			err = w.downward(dir, s.DownwardAPI.Items, p.DefaultMode)
		case s.ServiceAccountToken != nil:
			err = w.token(ctx, dir, s.ServiceAccountToken, p.DefaultMode)
		default:
			err = errors.New("unsupported projected source")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// token writes a bound service-account token from the TokenRequest API.
func (w *volumeWriter) token(ctx context.Context, dir string, t *corev1.ServiceAccountTokenProjection, mode *int32) error {
	sa := w.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.ExpirationSeconds,
		BoundObjectRef: &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: w.pod.Name, UID: w.pod.UID,
		},
	}}
	if t.Audience != "" {
		req.Spec.Audiences = []string{t.Audience}
	}
	resp, err := w.client.CoreV1().ServiceAccounts(w.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", w.pod.Namespace, sa, err)
	}
	return writeFile(dir, t.Path, []byte(resp.Status.Token), mode)
}

func writeFile(dir, rel string, data []byte, mode *int32) error {
	perm := fs.FileMode(0o644)
	if mode != nil {
		perm = fs.FileMode(*mode) & fs.ModePerm
	}
	path := filepath.Join(dir, filepath.Clean("/"+rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", rel, err)
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", rel, err)
	}
	return nil
}

// mountDirs creates missing mount points on the host file system (a bind
// mount needs one) and removes them when no Pod uses them any more. Each
// created directory is also listed in the state directory so Down removes it
// after a crash.
type mountDirs struct {
	mu      sync.Mutex
	l       layout
	refs    map[string]int
	created map[string]bool
}

func newMountDirs(l layout) *mountDirs {
	return &mountDirs{l: l, refs: map[string]int{}, created: map[string]bool{}}
}

// acquire makes sure dst exists (a directory, or a file when isFile) and
// returns the paths to release later.
func (m *mountDirs) acquire(dst string, isFile bool) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var missing []string
	for p := filepath.Clean(dst); p != "/"; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := m.record(p); err != nil {
			return nil, err
		}
		var err error
		if i == 0 && isFile {
			err = os.WriteFile(p, nil, 0o644)
		} else {
			err = os.Mkdir(p, 0o755)
		}
		if err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("creating mount point %s: %w", p, err)
		}
		m.created[p] = true
	}
	var held []string
	for p := filepath.Clean(dst); p != "/"; p = filepath.Dir(p) {
		if m.created[p] {
			m.refs[p]++
			held = append(held, p)
		}
	}
	return held, nil
}

func (m *mountDirs) record(p string) error {
	f, err := os.OpenFile(m.l.path("created-dirs"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("recording mount point %s: %w", p, err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, p)
	return err
}

// release drops one reference to each path, deepest first, and removes the
// ones no Pod uses.
func (m *mountDirs) release(held []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range held {
		m.refs[p]--
		if m.refs[p] <= 0 {
			delete(m.refs, p)
			delete(m.created, p)
			_ = os.Remove(p) // only succeeds when empty
		}
	}
}

// removeCreatedDirs removes what the cluster created as mount points; by the
// time Down runs no process uses them.
func removeCreatedDirs(l layout) {
	b, err := os.ReadFile(l.path("created-dirs"))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] != "" {
			_ = os.Remove(lines[i])
		}
	}
}
