// Package compiler checks a decoded spec and compiles it into a Plan.
//
// It starts where package lang stops: a Config whose blocks are decoded by
// schema but whose operator, dataset and model bodies are still unevaluated
// hcl.Bodys. It stops at a Plan, an immutable, serialisable DAG in
// topological order, or at diagnostics. It never reads data and never runs
// an operator; whatever it evaluates, it evaluates with values known before
// the run (variables) or with cty.UnknownVal of the right type.
//
// # Passes
//
// Compile calls six passes in a fixed order. Each one reads what the passes
// before it left on the compiler and adds one thing:
//
//  1. variables reads the Config's variable blocks and Options.Vars (-var,
//     -var-file) and produces the value of every input variable, converted
//     to its type and checked by its validation rules, and the seed of
//     settings.seed.
//  2. declare reads the Config and the Registry and produces the template
//     graph's nodes, one per declared object (locals, models, datasets,
//     stages, outputs, and each loop's rounds, round-0 state, state,
//     stages, next, until and result), in declaration order. Each operator
//     or provider body is decoded against its Signature, so an unknown
//     argument gets "Did you mean" and a missing required one is reported.
//     A model, dataset or stage with `count` or `for_each` (evaluated here,
//     from variables and static locals) becomes one node per instance,
//     stage.x[1] or stage.x["a"], and a group node stage.x over them
//     (repeat.go).
//  3. resolve reads every expression's hcl.Traversals and produces, for
//     each, its references (a ref per traversal) and the dependency edges
//     of its node. It applies the scope rules: in a loop's stages, next and
//     until, `stage.x` is this round's stage and `state` and `round` are
//     bound; `count` and `each` only in a repeated block's instances; a
//     literal instance index is checked against the instances; only `state`
//     crosses rounds; names that are no root (`item`,
//     `scores`, …) are deferred to the per-item scope of a per-item
//     argument, and are errors elsewhere.
//  4. cycles reads the dependency edges and produces the topological order,
//     or reports each cycle once with its full path and marks its edges for
//     `ouro graph`.
//  5. typecheck walks the topological order and gives every node a type: it
//     evaluates each expression in a context holding unknown values of the
//     types of exactly what it references (Terraform's validate trick),
//     converts value arguments to their parameter types, parses patterns
//     and type expressions, evaluates per-item arguments with `item` bound
//     to an unknown record, and asks the Signature's Result for the type of
//     the stage's value, which its readers then see.
//  6. emit reads the checked template graph and produces the Plan: it
//     unrolls each loop into per-round nodes (loop.L[r].stage.x, gated by
//     round r−1's until), maps references into each round's scope, bounds
//     the plan's size (MaxPlanNodes), and records expression sources and
//     their normalised forms.
//
// # Why this order
//
// Each pass needs the one before it. Declare needs known variables, because
// a model's provider, which may be a variable, decides the Signature its body
// is decoded against.
// Resolve needs every declaration, since a reference may point at an object
// declared later in the file or in another file. Cycles need resolved
// edges, and type checking needs the order cycles produces: it evaluates a
// node only after the nodes it reads, and on a cycle it would recurse
// forever. Emit needs the types and the rounds.
//
// Declare, resolve, cycles and typecheck also run after earlier errors, so
// a user sees every mistake of a spec at once. They work around what is
// broken rather than cascading: an undeclared operator leaves its node
// without a signature, a reference that did not resolve marks its
// expression broken and typecheck skips it, and a cycle skips type
// checking altogether. Emit runs only on an error-free spec. The template
// Graph (Result.Graph) is built from what declare and resolve produced,
// whatever happened after, so `ouro graph` can draw a spec with a cycle.
//
// # Where the runtime starts
//
// The Plan holds expression sources and their ranges, not values or parsed
// expressions. The runtime (package runtime) re-parses each expression at
// its recorded range and evaluates it with real inputs, so a diagnostic at
// run time is as exact as one at compile time, and the compiler's rewrites
// for checking (checkLogic's strict && and ||) never affect a run. The
// runtime trusts the Plan: it does not check types again. FormatVersion
// versions the encoding; bump it when a field's meaning changes.
//
// # How an operator plugs in
//
// The compiler knows no operator. It asks the Registry it is given for a
// Signature by name: the operator's parameters (name, type, default,
// Mode) and a Result function from the checked parameters (a Check) to the
// stage's value type. A new operator needs a Signature in package stdlib
// (signatures.go) and an implementation of runtime.Operator of the same
// name; the compiler does not change. The Mode of a parameter decides how
// the passes treat it: ModeValue is evaluated once before the stage runs,
// ModePerItem is a closure evaluated per record, with `item` (ItemOf) or
// the names Param.Vars returns in scope, ModePattern is parsed by
// lang/pattern and ModeType by typeexpr; resolve follows references only in
// the first two. Likewise the function table (Options.Functions) is an
// input, so the compiler imports lang and never stdlib.
package compiler
