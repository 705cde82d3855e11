package hwaccel

import "context"

// Devices spreads jobs over isolated devices: each job takes a free
// device, preferring a usable one, and waits while all are busy.
type Devices struct {
	all  []*Isolated
	free chan *Isolated
}

// NewDevices pools devices; it does not start them.
func NewDevices(ds []*Isolated) *Devices {
	p := &Devices{all: ds, free: make(chan *Isolated, len(ds))}
	for _, d := range ds {
		p.free <- d
	}
	return p
}

// Name is the devices' kind, e.g. "cuda".
func (p *Devices) Name() string {
	if len(p.all) == 0 {
		return "none"
	}
	return p.all[0].kind()
}

// All returns the pooled devices.
func (p *Devices) All() []*Isolated { return p.all }

// Prove proves on a free device; the result names it.
func (p *Devices) Prove(ctx context.Context, job Job) (Result, error) {
	var d *Isolated
	select {
	case d = <-p.free:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	for range len(p.all) { // swap an unusable device for a free usable one
		if d.usable() {
			break
		}
		select {
		case o := <-p.free:
			p.free <- d
			d = o
			continue
		default:
		}
		break
	}
	defer func() { p.free <- d }()
	return d.Prove(ctx, job)
}
