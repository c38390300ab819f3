//! The RTP media path: port allocation, RTP/RTCP streams with jitter buffers and source checks, recording to files, playout.
