//! Per-stream jitter buffer with reordering, de-duplication, loss detection and G.711 concealment.
