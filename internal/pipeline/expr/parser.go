package expr

// maxDepth bounds parenthesis nesting so hostile input cannot exhaust the
// stack; real rules never come close.
const maxDepth = 100

// parser is a recursive-descent parser over the grammar
//
//	or      = and { "||" and }
//	and     = term { "&&" term }
//	term    = "(" or ")" | operand [ cmpop operand ]
//	operand = $VAR | ${VAR} | 'str' | "str" | null | /regex/flags
//
// && and || chains become flat n-ary nodes, so evaluation depth is bounded
// by parenthesis nesting, not by expression length.
type parser struct {
	lx    lexer
	tok   token
	depth int
	vars  map[string]struct{}
}

func newParser(src string) *parser {
	return &parser{lx: lexer{src: src}, vars: map[string]struct{}{}}
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) parse() (node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, syntaxErrorf(p.tok.pos, "empty expression")
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokEOF:
		return n, nil
	case tokRParen:
		return nil, syntaxErrorf(p.tok.pos, `unmatched ")"`)
	default:
		return nil, syntaxErrorf(p.tok.pos, "unexpected %s, expected && or ||", p.tok.describe())
	}
}

func (p *parser) parseOr() (node, error) {
	first, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokOr {
		return first, nil
	}
	terms := []node{first}
	for p.tok.kind == tokOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	return &orNode{terms: terms}, nil
}

func (p *parser) parseAnd() (node, error) {
	first, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokAnd {
		return first, nil
	}
	terms := []node{first}
	for p.tok.kind == tokAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	return &andNode{terms: terms}, nil
}

func (p *parser) parseTerm() (node, error) {
	if p.tok.kind == tokLParen {
		return p.parseGroup()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	if !p.tok.isComparison() {
		return &bareNode{operand: left}, nil
	}
	op := p.tok.kind
	if err := p.advance(); err != nil {
		return nil, err
	}
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.tok.isComparison() {
		return nil, syntaxErrorf(p.tok.pos, "comparisons cannot be chained; join them with && or ||")
	}
	return &cmpNode{op: op, left: left, right: right}, nil
}

func (p *parser) parseGroup() (node, error) {
	open := p.tok
	p.depth++
	if p.depth > maxDepth {
		return nil, syntaxErrorf(open.pos, "parentheses nested deeper than %d levels", maxDepth)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	inner, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tokRParen:
	case tokEOF:
		return nil, syntaxErrorf(open.pos, `unclosed "(": missing ")"`)
	default:
		return nil, syntaxErrorf(p.tok.pos, `unexpected %s, expected &&, || or ")"`, p.tok.describe())
	}
	p.depth--
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.isComparison() {
		return nil, syntaxErrorf(p.tok.pos, "cannot compare a parenthesized condition; compare variables or strings")
	}
	return &groupNode{inner: inner}, nil
}

// operand consumes a value token or reports what was found instead.
func (p *parser) operand() (operand, error) {
	t := p.tok
	if !t.isOperand() {
		if t.kind == tokEOF {
			return operand{}, syntaxErrorf(t.pos, "unexpected end of expression, expected a variable, string, null or /regex/")
		}
		return operand{}, syntaxErrorf(t.pos, "unexpected %s, expected a variable, string, null or /regex/", t.describe())
	}
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	if t.kind == tokVar {
		p.vars[t.text] = struct{}{}
	}
	return operand{kind: t.kind, src: t.src, text: t.text, re: t.re}, nil
}
