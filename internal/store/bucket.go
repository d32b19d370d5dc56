package store

import (
	"context"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcp"
)

// openBucket opens a bucket of the service of scheme with that service's standard credentials:
// Application Default Credentials for gs (none when STORAGE_EMULATOR_HOST names an emulator,
// which the client then reaches), the AWS default chain for s3 (AWS_ENDPOINT_URL, honoured by the
// AWS SDK, names another endpoint, reached with path-style requests).
func openBucket(ctx context.Context, scheme, name string) (*blob.Bucket, error) {
	if scheme == "gs" {
		return openGCS(ctx, name)
	}
	return openS3(ctx, name)
}

func openGCS(ctx context.Context, name string) (*blob.Bucket, error) {
	client := gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())
	if os.Getenv("STORAGE_EMULATOR_HOST") == "" {
		creds, err := gcp.DefaultCredentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w for Google Cloud Storage (%v)", ErrNoCredentials, err)
		}
		if client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds)); err != nil {
			return nil, err
		}
	}
	return gcsblob.OpenBucket(ctx, client, name, nil)
}

func openS3(ctx context.Context, name string) (*blob.Bucket, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w for S3 (%v)", ErrNoCredentials, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // the S3 client needs one; AWS_REGION or the profile's names the bucket's
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("%w for S3 (%v)", ErrNoCredentials, err)
	}
	custom := cfg.BaseEndpoint != nil
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = custom })
	return s3blob.OpenBucket(ctx, client, name, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
}
