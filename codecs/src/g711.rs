//! G.711 µ-law and A-law (ITU-T G.711), bit-exact with the ITU-T G.191 reference.
