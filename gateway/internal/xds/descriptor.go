package xds

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The descriptors the transcoder needs are the ones compiled into this
	// binary: importing a service's generated package registers its file
	// (and, transitively, its dependencies) in protoregistry.GlobalFiles.
	_ "github.com/sentryagent/agentidp/libs/gen/agentidp/audit/v1"
	_ "github.com/sentryagent/agentidp/libs/gen/agentidp/credentials/v1"
	_ "github.com/sentryagent/agentidp/libs/gen/agentidp/registry/v1"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/genproto/googleapis/rpc/status"
)

// statusFiles let the transcoder render a google.rpc.Status with its
// ErrorInfo and BadRequest details as JSON (convert_grpc_status) instead of
// dropping details it cannot resolve.
var statusFiles = []string{
	"google/rpc/status.proto",
	"google/rpc/error_details.proto",
}

// Descriptor returns the serialized FileDescriptorSet holding the files
// that define services (fully qualified names) with all their transitive
// imports and the google.rpc error types, dependencies before dependents as
// Envoy's descriptor pool requires.
func Descriptor(services []string) ([]byte, error) {
	var roots []protoreflect.FileDescriptor
	for _, name := range services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("descriptor: service %s is not linked into the gateway: %w", name, err)
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			return nil, fmt.Errorf("descriptor: %s is not a service", name)
		}
		if err := checkTranscodable(sd); err != nil {
			return nil, err
		}
		roots = append(roots, sd.ParentFile())
	}
	for _, path := range statusFiles {
		fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
		if err != nil {
			return nil, fmt.Errorf("descriptor: %s is not linked into the gateway: %w", path, err)
		}
		roots = append(roots, fd)
	}

	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range roots {
		visit(fd)
	}
	// Deterministic so that the listener's content hash (its xDS version)
	// only changes when the protos do.
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	return b, nil
}

// checkTranscodable rejects HTTP rules Envoy 1.40's transcoder refuses:
// response_body naming a field that is not a google.api.HttpBody ("not
// supported yet for non-HttpBody fields"). Envoy would reject the whole
// listener, and serve nothing, so the gateway refuses to start instead,
// naming the method. The fix is in the proto: a method that answers with a
// resource returns that resource (AIP-131..135).
func checkTranscodable(sd protoreflect.ServiceDescriptor) error {
	var bad []string
	methods := sd.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if !ok || rule == nil {
			continue
		}
		for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
			if f := r.GetResponseBody(); f != "" && !isHTTPBody(m.Output(), f) {
				bad = append(bad, fmt.Sprintf("%s (response_body: %q)", m.FullName(), f))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("descriptor: Envoy's transcoder supports response_body only for google.api.HttpBody fields; "+
			"return the resource from these methods instead: %s", strings.Join(bad, ", "))
	}
	return nil
}

func isHTTPBody(msg protoreflect.MessageDescriptor, field string) bool {
	fd := msg.Fields().ByName(protoreflect.Name(field))
	return fd != nil && fd.Message() != nil && fd.Message().FullName() == "google.api.HttpBody"
}
