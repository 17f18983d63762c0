package pattern

import (
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The lexer has two states. Outside a capture ("Root") the text is cut into
// escapes, brackets, whitespace runs and literal text; inside "{...}" it is
// cut into identifiers and colons. Every byte sequence lexes (Bad and
// BadEscape catch the rest), so all errors are reported by checkTokens and
// check with exact offsets instead of by the lexer.
//
// The lexer and the parser are built on first use, not at package
// initialisation: every ouro command links this package, few parse a
// pattern (building them is ~0.2 ms of each command's start-up).
var patternLexer = sync.OnceValue(func() *lexer.StatefulDefinition { return lexer.MustStateful(patternRules) })

var patternRules = lexer.Rules{
	"Root": {
		{Name: "Escape", Pattern: `\\[{}\[\]\\]`},
		{Name: "BadEscape", Pattern: `\\(?s:.)?`},
		{Name: "Open", Pattern: `\{`, Action: lexer.Push("Capture")},
		{Name: "Close", Pattern: `\}`},
		{Name: "LBracket", Pattern: `\[`},
		{Name: "RBracket", Pattern: `\]`},
		{Name: "Space", Pattern: `[\t\n\v\f\r \x{85}\p{Z}]+`},
		{Name: "Text", Pattern: `[^{}\[\]\\\t\n\v\f\r \x{85}\p{Z}]+`},
	},
	"Capture": {
		{Name: "Ident", Pattern: `[A-Za-z0-9_]+`},
		{Name: "Colon", Pattern: `:`},
		{Name: "CaptureEnd", Pattern: `\}`, Action: lexer.Pop()},
		{Name: "Bad", Pattern: `(?s:.)`},
	},
}

// patternNode is the participle grammar of a pattern.
type patternNode struct {
	Pos   lexer.Position
	Items []*elementNode `parser:"@@*"`
}

type elementNode struct {
	Pos     lexer.Position
	Text    *string      `parser:"(  @Text"`
	Escape  *string      `parser:" | @Escape"`
	Space   *string      `parser:" | @Space"`
	Capture *captureNode `parser:" | @@"`
	Group   *groupNode   `parser:" | @@ )"`
}

type captureNode struct {
	Pos    lexer.Position
	Name   string `parser:"\"{\" @Ident?"`
	Colon  bool   `parser:"( @\":\""`
	Type   string `parser:"  @Ident? )? \"}\""`
	EndPos lexer.Position
}

type groupNode struct {
	Pos    lexer.Position
	Items  []*elementNode `parser:"\"[\" @@* \"]\""`
	EndPos lexer.Position
}

var parser = sync.OnceValue(func() *participle.Parser[patternNode] {
	return participle.MustBuild[patternNode](participle.Lexer(patternLexer()))
})

// Grammar returns the pattern grammar in participle's EBNF notation.
func Grammar() string { return parser().String() }
