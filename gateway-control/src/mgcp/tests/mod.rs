//! Call-agent scenarios in virtual time.
