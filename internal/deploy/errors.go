package deploy

import "fmt"

// kindError gives an error one of the kinds above (ErrInvalid, ErrConflict…)
// without adding the kind's words to the message, and keeps the cause
// reachable: a spec.ErrorList stays one for errors.As.
type kindError struct {
	kind error
	err  error
}

// Error is the cause's message alone.
func (e *kindError) Error() string { return e.err.Error() }

// Unwrap reaches both the kind and the cause.
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind marks err (nil stays nil).
func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

func invalid(format string, args ...any) error {
	return withKind(ErrInvalid, fmt.Errorf(format, args...))
}

func conflict(format string, args ...any) error {
	return withKind(ErrConflict, fmt.Errorf(format, args...))
}

func notFound(format string, args ...any) error {
	return withKind(ErrNotFound, fmt.Errorf(format, args...))
}
