package emulator

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// routingHeader is the gRPC metadata key the real service routes calls by. Google's generated
// clients send it on every call: read_session.table=<table> for CreateReadSession,
// read_stream=<stream> for ReadRows, name=<stream> for SplitReadStream (values URL-query-escaped).
const routingHeader = "x-goog-request-params"

// readService prefixes the full method names of the Storage Read API.
const readService = "/google.cloud.bigquery.storage.v1.BigQueryRead/"

// errNoRoutingHeader is the real service's answer to a call without the routing header.
var errNoRoutingHeader = status.Error(codes.InvalidArgument, "Request is missing 'x-goog-request-params' header.")

// checkRouting fails a Storage Read call whose metadata lacks the routing header. Only the key's
// presence is checked: the service validates the request's fields itself.
func checkRouting(ctx context.Context, method string) error {
	if !strings.HasPrefix(method, readService) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get(routingHeader)) == 0 {
		return errNoRoutingHeader
	}
	return nil
}

// routingUnary is checkRouting for unary calls.
func routingUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkRouting(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// routingStream is checkRouting for streaming calls.
func routingStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := checkRouting(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// readQuota counts the ReadRows calls being served, per billing project (the service's concurrent
// stream quota) and per session (the service's limit on one session's parallelism). It is safe
// for concurrent use.
type readQuota struct {
	perProject int64 // at most this many calls at once per billing project
	perSession int64 // at most this many calls at once per session; 0 = unlimited

	mu       sync.Mutex
	projects map[string]int64
	sessions map[string]int64
}

func newReadQuota(perProject, perSession int) *readQuota {
	return &readQuota{perProject: int64(perProject), perSession: int64(perSession),
		projects: map[string]int64{}, sessions: map[string]int64{}}
}

// acquire takes a slot for one ReadRows call on stream of the session named sess
// (projects/{p}/locations/{l}/sessions/{s}); the caller calls release once the call ends. Over a
// limit it returns RESOURCE_EXHAUSTED with a RetryInfo, as the service does.
func (q *readQuota) acquire(sess, stream string) (release func(), err error) {
	project := sessionProject(sess)
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := q.projects[project]; n >= q.perProject {
		return nil, exhausted(fmt.Sprintf("there was an error operating on '%s': Concurrent stream usage exceeded: project %s has %d ReadRows calls open, the quota is %d",
			stream, project, n, q.perProject))
	}
	if n := q.sessions[sess]; q.perSession > 0 && n >= q.perSession {
		return nil, exhausted(fmt.Sprintf("there was an error operating on '%s': read session parallelism exceeded: the session has %d ReadRows calls open, the emulator allows %d; read fewer streams at once",
			stream, n, q.perSession))
	}
	q.projects[project]++
	q.sessions[sess]++
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.projects[project]--; q.projects[project] == 0 {
			delete(q.projects, project)
		}
		if q.sessions[sess]--; q.sessions[sess] == 0 {
			delete(q.sessions, sess)
		}
	}, nil
}

// sessionProject is the billing project of a session name projects/{p}/locations/{l}/sessions/{s}.
func sessionProject(name string) string {
	p, _ := strings.CutPrefix(name, "projects/")
	p, _, _ = strings.Cut(p, "/")
	return p
}
