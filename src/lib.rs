//! The workspace's root package. It has no code of its own: it owns the integration
//! tests in `tests/`, which drive `lbqueue`, `lbqueue-models` and the `lbq` binary
//! together.
