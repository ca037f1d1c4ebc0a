package feed

import (
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// HeadHeader is the response header a change-feed server sends before its
// first event: the sequence of the newest event committed when the stream
// opened (0 for an empty feed). A consumer that has handled that sequence
// has caught up with everything that happened before it subscribed, which
// is how a cache that must be complete (authz's kill switch) knows when it
// may start answering.
const HeadHeader = "agentidp-feed-head"

// SendHead sends HeadHeader on a server stream; call it before the first
// Send.
func SendHead(stream grpc.ServerStream, head int64) error {
	return stream.SendHeader(metadata.Pairs(HeadHeader, strconv.FormatInt(head, 10)))
}

// HeadOf reads HeadHeader from a stream's response header.
func HeadOf(md metadata.MD) (int64, bool) {
	v := md.Get(HeadHeader)
	if len(v) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
