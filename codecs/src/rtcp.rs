//! RTCP sender and receiver reports (RFC 3550 §6, appendix A.8).
