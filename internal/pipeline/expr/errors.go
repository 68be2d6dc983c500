package expr

import "fmt"

// SyntaxError describes why an expression could not be parsed and where.
type SyntaxError struct {
	// Offset is the 0-based byte offset into the source of the token that
	// made the expression invalid (len(src) when the input ended too early).
	Offset int
	// Msg says what was wrong, without position information.
	Msg string
}

// Error formats the error with a 1-based column, the way editors and the
// GitLab CI lint page count.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("column %d: %s", e.Offset+1, e.Msg)
}

func syntaxErrorf(offset int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: offset, Msg: fmt.Sprintf(format, args...)}
}
