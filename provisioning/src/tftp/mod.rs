//! placeholder: being built (issue 18).
