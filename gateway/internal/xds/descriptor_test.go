package xds

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sentryagent/agentidp/gateway/internal/catalog"
)

func TestDescriptor(t *testing.T) {
	b, err := Descriptor(catalog.TranscodedGRPCServices())
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	// Envoy builds its pool file by file: every import must come first.
	seen := map[string]bool{}
	for _, f := range set.GetFile() {
		for _, dep := range f.GetDependency() {
			if !seen[dep] {
				t.Errorf("%s comes before its import %s", f.GetName(), dep)
			}
		}
		if seen[f.GetName()] {
			t.Errorf("%s is in the set twice", f.GetName())
		}
		seen[f.GetName()] = true
	}
	for _, want := range []string{
		"agentidp/registry/v1/registry.proto",
		"google/api/annotations.proto",
		"google/protobuf/timestamp.proto",
		"google/rpc/status.proto",
		"google/rpc/error_details.proto",
	} {
		if !seen[want] {
			t.Errorf("descriptor set lacks %s", want)
		}
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatalf("descriptor set does not resolve on its own: %v", err)
	}
	for _, svc := range catalog.TranscodedGRPCServices() {
		if _, err := files.FindDescriptorByName(protoreflect.FullName(svc)); err != nil {
			t.Errorf("service %s missing: %v", svc, err)
		}
	}
}

func TestDescriptorRejectsResponseBody(t *testing.T) {
	// A service like the ones Envoy 1.40 refuses: response_body naming a
	// message field.
	rule := &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/things/{id}"}, ResponseBody: "thing"}
	opts := &descriptorpb.MethodOptions{}
	proto.SetExtension(opts, annotations.E_Http, rule)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("test/things.proto"),
		Package:    proto.String("test.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Thing")},
			{Name: proto.String("GetThingRequest"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("id"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("id"),
			}}},
			{Name: proto.String("GetThingResponse"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("thing"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
				TypeName: proto.String(".test.v1.Thing"), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String("thing"),
			}}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("ThingService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("GetThing"), InputType: proto.String(".test.v1.GetThingRequest"),
				OutputType: proto.String(".test.v1.GetThingResponse"), Options: opts,
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	err = checkTranscodable(fd.Services().Get(0))
	if err == nil || !strings.Contains(err.Error(), `test.v1.ThingService.GetThing (response_body: "thing")`) {
		t.Fatalf("err = %v", err)
	}
}
