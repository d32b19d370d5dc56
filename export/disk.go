package export

import (
	"sync"
	"time"

	"github.com/bqread/bqread/internal/workdir"
)

// diskSampleEvery is how often diskPeak samples the disk an export holds.
const diskSampleEvery = 100 * time.Millisecond

// diskPeak keeps the largest workdir.DiskUsage of an export (work dir plus temp output), sampled
// every diskSampleEvery while it runs and once more by last, after the merge wrote its last byte
// and before the output is renamed and the work dir removed. Today segments are removed only at
// the end, so the disk held only grows until then and that last sample is the peak, exactly; a
// write path that frees disk as it goes could pass a peak between two samples by at most what is
// written in diskSampleEvery.
type diskPeak struct {
	dir  *workdir.Dir
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak int64
}

// watchDisk starts sampling d.
func watchDisk(d *workdir.Dir) *diskPeak {
	p := &diskPeak{dir: d, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(diskSampleEvery)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// sample records the disk held now, if it is the largest yet; a failed walk counts what it saw.
func (p *diskPeak) sample() {
	n, _ := p.dir.DiskUsage()
	p.mu.Lock()
	p.peak = max(p.peak, n)
	p.mu.Unlock()
}

// last stops the sampling, takes a last sample and returns the peak; it is idempotent.
func (p *diskPeak) last() int64 {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.sample()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}
