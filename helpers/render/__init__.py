"""Everything the run writes as text: code generation from templates/ (one render function per
template), identifiers, the op resolver, report text and plots. Never imports TensorFlow; only
plots imports matplotlib, and the pipeline imports plots only when plots are asked for."""
