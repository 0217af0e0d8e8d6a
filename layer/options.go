package layer

// DefaultGzipLevel is the compression level of a layer unless
// WithGzipLevel says otherwise. A layer's digest depends on it, so it
// never changes silently.
const DefaultGzipLevel = 6

// Option changes how a layer is written.
type Option func(*options)

// options holds every setting of a write, with its default in
// newOptions.
type options struct {
	gzipLevel int
}

func newOptions(opts []Option) options {
	o := options{gzipLevel: DefaultGzipLevel}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithGzipLevel sets the gzip level, from gzip.BestSpeed (e.g. for a
// layer that only travels to a build worker) to gzip.BestCompression; an
// invalid level makes the write fail.
func WithGzipLevel(level int) Option {
	return func(o *options) { o.gzipLevel = level }
}
