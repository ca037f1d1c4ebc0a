// Package kubesecrettest gives tests of the k8s-secret output a Kubernetes
// API to talk to. No API server can run on the build machines, so it is
// client-go's fake clientset, taught the one behaviour of the API server
// that the output relies on and the fake lacks: resourceVersions, assigned
// on every write and checked on update (optimistic concurrency).
package kubesecrettest

import (
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Clientset returns a fake clientset holding objects, whose Secrets get a
// resourceVersion on create and update, and whose updates of a Secret that
// changed since the caller read it fail with a Conflict.
func Clientset(objects ...runtime.Object) *fake.Clientset {
	c := fake.NewClientset(objects...)
	var mu sync.Mutex
	next := 100
	c.PrependReactor("*", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		// By verb: an UpdateAction is also a CreateAction (both carry an
		// object), so a type switch would never reach the update.
		switch a.GetVerb() {
		case "create":
			s := a.(k8stesting.CreateAction).GetObject().(*corev1.Secret)
			next++
			s.ResourceVersion = strconv.Itoa(next)
		case "update":
			s := a.(k8stesting.UpdateAction).GetObject().(*corev1.Secret)
			cur, err := c.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), a.GetNamespace(), s.Name)
			if err != nil {
				return true, nil, err
			}
			if rv := cur.(*corev1.Secret).ResourceVersion; rv != s.ResourceVersion {
				return true, nil, apierrors.NewConflict(corev1.Resource("secrets"), s.Name,
					fmt.Errorf("the object has been modified (resourceVersion %s, the update names %s)", rv, s.ResourceVersion))
			}
			next++
			s.ResourceVersion = strconv.Itoa(next)
		}
		return false, nil, nil // the fake's own handling stores the object
	})
	return c
}
