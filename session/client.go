package session

import (
	"context"
	"fmt"
	"net"
	"strings"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxRecvMsgSize is the gRPC receive limit: a ReadRows response may be up to 128 MB, so the limit
// is 129 MiB, as in the official client.
const MaxRecvMsgSize = 129 << 20

// NewClient returns a BigQueryReadClient for endpoint. An empty endpoint is the Google service,
// reached with Application Default Credentials. A loopback endpoint (localhost, 127.0.0.0/8, ::1:
// the emulator), or any endpoint when plaintext is set, is reached in plaintext without
// credentials; any other HOST:PORT over TLS with Application Default Credentials. The caller
// closes the client.
func NewClient(ctx context.Context, endpoint string, plaintext bool) (*storage.BigQueryReadClient, error) {
	opts := []option.ClientOption{
		option.WithGRPCDialOption(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxRecvMsgSize),
			grpc.ForceCodecV2(rowsCodec{}))),
	}
	if endpoint != "" {
		loopback, err := IsLoopback(endpoint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithEndpoint(endpoint))
		if loopback || plaintext {
			opts = append(opts, option.WithoutAuthentication(),
				option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		}
	}
	c, err := storage.NewBigQueryReadClient(ctx, opts...)
	if err != nil {
		return nil, &ClientError{Endpoint: endpoint, Err: err}
	}
	return c, nil
}

// ClientError is a failure to make a BigQueryReadClient, most often for want of credentials.
type ClientError struct {
	Endpoint string // "" for the Google service
	Err      error
}

func (e *ClientError) Error() string {
	return fmt.Sprintf("connect to %s: %v (for the real service, run `gcloud auth application-default login`)", endpointName(e.Endpoint), e.Err)
}

func (e *ClientError) Unwrap() error { return e.Err }

// IsLoopback reports whether endpoint (HOST:PORT) names this machine.
func IsLoopback(endpoint string) (bool, error) {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || port == "" {
		return false, fmt.Errorf("session: endpoint %q: want HOST:PORT, e.g. 127.0.0.1:9060", endpoint)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func endpointName(endpoint string) string {
	if endpoint == "" {
		return "bigquerystorage.googleapis.com"
	}
	return endpoint
}
