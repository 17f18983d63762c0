package modelops

type Judge struct{ Generate }
type Refine struct{ Generate }
