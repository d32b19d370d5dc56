package workdir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bqread/bqread/internal/store"
)

// A work dir in a bucket (gs://bucket/prefix/, s3://bucket/prefix/) is the objects under its
// prefix, through a store.Blob. The rules are those of a local one, but for what a bucket has
// not: no owner or mode to check (the bucket's permissions decide who may write there), no
// folder to create or remove, and no flock, so that the lock is an object (lockBucket).

// ErrBucket is the reason of an *Error for a bucket that cannot be used: missing, denied, or
// without credentials; the *Error wraps the store's error too.
var ErrBucket = errors.New("workdir: bucket cannot be used")

// openBucketStore opens the store of the work dir at url; the url names a folder.
func openBucketStore(url string) (*Dir, error) {
	url = strings.TrimSuffix(url, "/") + "/"
	b, err := store.OpenBlob(context.Background(), url)
	if err != nil {
		return nil, &Error{Path: url, Reason: ErrBucket, Detail: "cannot be used: " + err.Error(), Cause: err}
	}
	return &Dir{path: url, st: b, bucket: b}, nil
}

// createInBucket makes the prefix url a new export's work dir, as Create does a directory: an
// empty prefix gets the marker; a work dir bqread made is reused (Dir.reuse); a prefix that
// holds objects without bqread's marker is refused.
func createInBucket(url string, replace bool) (*Dir, error) {
	d, err := openBucketStore(url)
	if err != nil {
		return nil, err
	}
	objects, err := d.bucket.ListAll(context.Background(), "")
	if err != nil {
		return nil, err
	}
	if len(objects) == 0 {
		if err := d.writeMarker(true); err != nil {
			return nil, err
		}
		return d, d.Lock()
	}
	if err := d.readMarker(); err != nil {
		return nil, err
	}
	return d.reuse(replace)
}

// openInBucket opens the work dir of an earlier export at url: a prefix that holds bqread's
// marker.
func openInBucket(url string) (*Dir, error) {
	d, err := openBucketStore(url)
	if err != nil {
		return nil, err
	}
	if err := d.readMarker(); err != nil {
		return nil, err
	}
	return d, nil
}

// bucketLock is the content of the lock object of a work dir in a bucket.
type bucketLock struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
	Token string    `json:"token"`
}

// lockBucket takes the work dir for this process by creating the lock object only if it does
// not exist (GCS ifGenerationMatch=0, S3 If-None-Match: *), so that of two processes exactly one
// gets it. The object names its holder. A process that dies holding it leaves it behind: the
// *Error (ErrLocked) then names the holder and the object to remove once that holder is known
// to be gone. Unlock removes it.
func (d *Dir) lockBucket() error {
	host, _ := os.Hostname()
	token := make([]byte, 12)
	rand.Read(token)
	rec := bucketLock{PID: os.Getpid(), Host: host, Since: time.Now().UTC(), Token: hex.EncodeToString(token)}
	data, _ := json.Marshal(rec)
	err := d.commitNew(context.Background(), "", lockName, data)
	if errors.Is(err, store.ErrExist) {
		return &Error{Path: d.path, Reason: ErrLocked, Detail: "is in use by another bqread (" + d.lockHolder() + "); if that process no longer runs, remove " + d.path + lockName}
	}
	if err != nil {
		return fmt.Errorf("lock work dir %s: %w", d.path, err)
	}
	d.lockToken = rec.Token
	return nil
}

// lockHolder describes the holder named in the lock object.
func (d *Dir) lockHolder() string {
	var rec bucketLock
	data, err := d.readFile(lockName)
	if err != nil || json.Unmarshal(data, &rec) != nil {
		return "holder unknown"
	}
	return fmt.Sprintf("pid %d on %s since %s", rec.PID, rec.Host, rec.Since.Format(time.RFC3339))
}

// unlockBucket removes the lock object if this process holds it.
func (d *Dir) unlockBucket() {
	if d.lockToken == "" {
		return
	}
	var rec bucketLock
	data, err := d.readFile(lockName)
	if err == nil && json.Unmarshal(data, &rec) == nil && rec.Token == d.lockToken {
		d.st.Remove(context.Background(), lockName)
	}
	d.lockToken = ""
}
