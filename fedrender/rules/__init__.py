"""Rule packs: loading, compiling and evaluating a middleware's CEL rules and templates."""
